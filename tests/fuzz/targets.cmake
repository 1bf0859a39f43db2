# The fuzz targets: fuzz_<name>.cpp and corpus/<name>/ each. Read by CMakeLists.txt and ctest.cmake.
set(TESSERA_FUZZ_TARGETS cache_spec image_file model_config part_configs pipeline_index prompt_clean safetensors scheduler_config)
# The ones whose code under test needs LibTorch.
set(TESSERA_FUZZ_TORCH_TARGETS safetensors scheduler_config)
