#include "src/io/video_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "common/check.h"
#include "src/io/av_check.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace tessera::io {

bool video_output_available() { return true; }
namespace {

// Owners for FFmpeg's objects, so that an error thrown half-way frees everything and closes the file.
struct OutputContextDeleter {
  void operator()(AVFormatContext* context) const {
    if (context->pb != nullptr && !(context->oformat->flags & AVFMT_NOFILE)) avio_closep(&context->pb);
    avformat_free_context(context);
  }
};
struct InputContextDeleter {
  void operator()(AVFormatContext* context) const { avformat_close_input(&context); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* context) const { avcodec_free_context(&context); }
};
struct FrameDeleter {
  void operator()(AVFrame* frame) const { av_frame_free(&frame); }
};
struct PacketDeleter {
  void operator()(AVPacket* packet) const { av_packet_free(&packet); }
};
struct ScalerDeleter {
  void operator()(SwsContext* scaler) const { sws_freeContext(scaler); }
};
struct DictionaryOwner {
  AVDictionary* entries = nullptr;
  ~DictionaryOwner() { av_dict_free(&entries); }
};
using OutputContext = std::unique_ptr<AVFormatContext, OutputContextDeleter>;
using InputContext = std::unique_ptr<AVFormatContext, InputContextDeleter>;
using CodecContext = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using Frame = std::unique_ptr<AVFrame, FrameDeleter>;
using Packet = std::unique_ptr<AVPacket, PacketDeleter>;
using Scaler = std::unique_ptr<SwsContext, ScalerDeleter>;

// x264 prints its settings and statistics at info level on every file; keep warnings and errors.
void quiet_ffmpeg_info_logs() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_WARNING); });
}

bool is_regular_file(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

// How one output format is encoded.
struct EncoderChoice {
  const char* muxer = nullptr;  // named, not guessed: the file being written may be a ".tmp" name
  const AVCodec* codec = nullptr;
  AVPixelFormat pixel_format = AV_PIX_FMT_NONE;
  bool even_size = false;  // chroma subsampled by two in both directions
};

const AVCodec* find_h264_encoder() {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (codec == nullptr) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
  TESSERA_CHECK(codec != nullptr,
                "this FFmpeg has no H.264 encoder, so .mp4 output is impossible; install an FFmpeg built with "
                "libx264 (Debian's libavcodec has it) or write .png or .gif instead");
  return codec;
}

// yuv420p where the encoder takes it (every H.264 encoder we know), else its first format.
AVPixelFormat preferred_pixel_format(const AVCodec* codec, AVPixelFormat wanted) {
  if (codec->pix_fmts == nullptr) return wanted;
  for (const AVPixelFormat* format = codec->pix_fmts; *format != AV_PIX_FMT_NONE; ++format) {
    if (*format == wanted) return wanted;
  }
  return codec->pix_fmts[0];
}

// Copies one frame into `padded` (padded_height x padded_width), repeating the last column and row.
void pad_by_replication(const uint8_t* rgb, int64_t height, int64_t width, int64_t padded_height, int64_t padded_width,
                        std::vector<uint8_t>& padded) {
  padded.resize(static_cast<size_t>(padded_height * padded_width * 3));
  for (int64_t y = 0; y < padded_height; ++y) {
    const uint8_t* source_row = rgb + std::min(y, height - 1) * width * 3;
    uint8_t* target_row = padded.data() + y * padded_width * 3;
    std::copy(source_row, source_row + width * 3, target_row);
    for (int64_t x = width; x < padded_width; ++x) {
      std::copy(source_row + (width - 1) * 3, source_row + width * 3, target_row + x * 3);
    }
  }
}

// Moves every packet the encoder has ready into the file. Constant frame rate: each lasts one tick.
void write_ready_packets(AVCodecContext* encoder, AVFormatContext* output, AVStream* stream, AVPacket* packet,
                         const std::string& context) {
  while (true) {
    const int received = avcodec_receive_packet(encoder, packet);
    if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return;
    TESSERA_CHECK(received >= 0, context, ": avcodec_receive_packet failed: ", av_error_text(received));
    if (packet->duration == 0) packet->duration = 1;
    av_packet_rescale_ts(packet, encoder->time_base, stream->time_base);
    packet->stream_index = stream->index;
    TESSERA_CHECK_AV(av_interleaved_write_frame(output, packet), context);
  }
}

void set_encoder_quality(AVCodecContext* encoder, const std::string& context) {
  if (std::string(encoder->codec->name) == "libx264") {
    // CRF 18 is visually lossless for x264; small generated frames make the files tiny either way.
    TESSERA_CHECK_AV(av_opt_set(encoder->priv_data, "crf", "18", 0), context);
    TESSERA_CHECK_AV(av_opt_set(encoder->priv_data, "preset", "medium", 0), context);
  } else if (encoder->codec_id == AV_CODEC_ID_H264) {
    // Other H.264 encoders take no CRF; about one bit per pixel is generous at these sizes.
    encoder->bit_rate = std::max<int64_t>(400000, int64_t{encoder->width} * encoder->height * encoder->time_base.den);
  }
}

void encode_video(const std::string& path, FramesView frames, int fps, const EncoderChoice& choice) {
  const std::string context = "writing " + path;
  check_frames(frames, context);
  TESSERA_CHECK(fps >= 1 && fps <= 1000, context, ": fps must be between 1 and 1000, got ", fps);
  quiet_ffmpeg_info_logs();
  const int64_t height = choice.even_size ? (frames.height + 1) / 2 * 2 : frames.height;
  const int64_t width = choice.even_size ? (frames.width + 1) / 2 * 2 : frames.width;
  TESSERA_CHECK(height <= 65535 && width <= 65535, context, ": frames of ", frames.height, "x", frames.width,
                " are too large for video (at most 65535 pixels a side)");

  AVFormatContext* raw_output = nullptr;
  TESSERA_CHECK_AV(avformat_alloc_output_context2(&raw_output, nullptr, choice.muxer, path.c_str()), context);
  const OutputContext output(raw_output);
  AVStream* stream = avformat_new_stream(output.get(), nullptr);
  TESSERA_CHECK(stream != nullptr, context, ": avformat_new_stream failed");
  if (!(output->oformat->flags & AVFMT_NOFILE)) {
    TESSERA_CHECK_AV(avio_open(&output->pb, path.c_str(), AVIO_FLAG_WRITE), context);
  }

  const CodecContext encoder(avcodec_alloc_context3(choice.codec));
  TESSERA_CHECK(encoder != nullptr, context, ": avcodec_alloc_context3 failed");
  encoder->width = static_cast<int>(width);
  encoder->height = static_cast<int>(height);
  encoder->pix_fmt = choice.pixel_format;
  encoder->time_base = AVRational{1, fps};
  encoder->framerate = AVRational{fps, 1};
  encoder->sample_aspect_ratio = AVRational{1, 1};
  if (choice.pixel_format == AV_PIX_FMT_YUV420P) {
    // swscale converts with BT.601 limited range by default; say so, so that players convert back alike.
    encoder->colorspace = AVCOL_SPC_SMPTE170M;
    encoder->color_range = AVCOL_RANGE_MPEG;
  }
  if (output->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  set_encoder_quality(encoder.get(), context);
  // Encoders refuse some sizes (x264: very wide or tall frames) with a generic code; the reason is in their log.
  TESSERA_CHECK_AV(avcodec_open2(encoder.get(), choice.codec, nullptr),
                   context + " with " + choice.codec->name + " at " + std::to_string(width) + "x" +
                       std::to_string(height) + " (FFmpeg's log above says why it refused)");
  TESSERA_CHECK_AV(avcodec_parameters_from_context(stream->codecpar, encoder.get()), context);
  stream->time_base = encoder->time_base;
  stream->avg_frame_rate = encoder->framerate;

  DictionaryOwner muxer_options;
  // The index at the front lets browsers start playing before the whole file has arrived.
  if (std::string(choice.muxer) == "mp4") {
    TESSERA_CHECK_AV(av_dict_set(&muxer_options.entries, "movflags", "+faststart", 0), context);
  }
  TESSERA_CHECK_AV(avformat_write_header(output.get(), &muxer_options.entries), context);

  const Scaler scaler(sws_getContext(static_cast<int>(width), static_cast<int>(height), AV_PIX_FMT_RGB24,
                                     static_cast<int>(width), static_cast<int>(height), choice.pixel_format,
                                     SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  TESSERA_CHECK(scaler != nullptr, context, ": sws_getContext cannot convert RGB24 to ",
                av_get_pix_fmt_name(choice.pixel_format));
  const Frame frame(av_frame_alloc());
  const Packet packet(av_packet_alloc());
  TESSERA_CHECK(frame != nullptr && packet != nullptr, context, ": out of memory allocating a frame");
  frame->format = choice.pixel_format;
  frame->width = static_cast<int>(width);
  frame->height = static_cast<int>(height);
  TESSERA_CHECK_AV(av_frame_get_buffer(frame.get(), 0), context);

  const bool needs_padding = height != frames.height || width != frames.width;
  std::vector<uint8_t> padded;
  for (int64_t index = 0; index < frames.frames; ++index) {
    const uint8_t* rgb = frames.frame(index);
    if (needs_padding) {
      pad_by_replication(rgb, frames.height, frames.width, height, width, padded);
      rgb = padded.data();
    }
    const uint8_t* source_planes[1] = {rgb};
    const int source_strides[1] = {static_cast<int>(width * 3)};
    TESSERA_CHECK_AV(av_frame_make_writable(frame.get()), context);
    TESSERA_CHECK_AV(sws_scale(scaler.get(), source_planes, source_strides, 0, static_cast<int>(height), frame->data,
                               frame->linesize),
                     context);
    frame->pts = index;
    TESSERA_CHECK_AV(avcodec_send_frame(encoder.get(), frame.get()), context);
    write_ready_packets(encoder.get(), output.get(), stream, packet.get(), context);
  }
  // Flush: the encoder holds frames back for lookahead and B-frames.
  TESSERA_CHECK_AV(avcodec_send_frame(encoder.get(), nullptr), context);
  write_ready_packets(encoder.get(), output.get(), stream, packet.get(), context);
  TESSERA_CHECK_AV(av_write_trailer(output.get()), context);
  if (output->pb != nullptr && !(output->oformat->flags & AVFMT_NOFILE)) {
    TESSERA_CHECK_AV(avio_closep(&output->pb), context);  // closing flushes; a full disk shows here
  }
}

}  // namespace

void write_mp4(const std::string& path, FramesView frames, int fps) {
  EncoderChoice choice;
  choice.muxer = "mp4";
  choice.codec = find_h264_encoder();
  choice.pixel_format = preferred_pixel_format(choice.codec, AV_PIX_FMT_YUV420P);
  choice.even_size = true;
  encode_video(path, frames, fps, choice);
}

void write_gif(const std::string& path, FramesView frames, int fps) {
  EncoderChoice choice;
  choice.muxer = "gif";
  choice.codec = avcodec_find_encoder(AV_CODEC_ID_GIF);
  TESSERA_CHECK(choice.codec != nullptr, "this FFmpeg has no GIF encoder; write .mp4 or .png instead of ", path);
  // RGB8 (3-3-2 bits) is a fixed palette that swscale dithers to and the GIF encoder takes directly.
  choice.pixel_format = AV_PIX_FMT_RGB8;
  encode_video(path, frames, fps, choice);
}

VideoInfo probe_video(const std::string& path) {
  const std::string context = "reading video " + path;
  TESSERA_CHECK(is_regular_file(path), "video file ", path, " does not exist (or is not a regular file)");
  quiet_ffmpeg_info_logs();
  AVFormatContext* raw_input = nullptr;
  TESSERA_CHECK_AV(avformat_open_input(&raw_input, path.c_str(), nullptr, nullptr), context);
  const InputContext input(raw_input);
  TESSERA_CHECK_AV(avformat_find_stream_info(input.get(), nullptr), context);
  const int stream_index = av_find_best_stream(input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  TESSERA_CHECK(stream_index >= 0, context, ": the file has no video stream");
  const AVCodecParameters* parameters = input->streams[stream_index]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(parameters->codec_id);
  TESSERA_CHECK(codec != nullptr, context, ": this FFmpeg has no decoder for ", avcodec_get_name(parameters->codec_id));
  const CodecContext decoder(avcodec_alloc_context3(codec));
  TESSERA_CHECK(decoder != nullptr, context, ": avcodec_alloc_context3 failed");
  TESSERA_CHECK_AV(avcodec_parameters_to_context(decoder.get(), parameters), context);
  TESSERA_CHECK_AV(avcodec_open2(decoder.get(), codec, nullptr), context);

  VideoInfo info;
  info.height = parameters->height;
  info.width = parameters->width;
  info.codec = avcodec_get_name(parameters->codec_id);
  const Frame frame(av_frame_alloc());
  const Packet packet(av_packet_alloc());
  TESSERA_CHECK(frame != nullptr && packet != nullptr, context, ": out of memory allocating a frame");
  const auto count_decoded_frames = [&] {
    while (true) {
      const int received = avcodec_receive_frame(decoder.get(), frame.get());
      if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return;
      TESSERA_CHECK(received >= 0, context, ": avcodec_receive_frame failed: ", av_error_text(received));
      ++info.frames;
      av_frame_unref(frame.get());
    }
  };
  while (true) {
    const int read = av_read_frame(input.get(), packet.get());
    if (read == AVERROR_EOF) break;
    TESSERA_CHECK(read >= 0, context, ": av_read_frame failed: ", av_error_text(read));
    if (packet->stream_index == stream_index) {
      const int sent = avcodec_send_packet(decoder.get(), packet.get());
      av_packet_unref(packet.get());
      TESSERA_CHECK(sent >= 0, context, ": avcodec_send_packet failed: ", av_error_text(sent));
      count_decoded_frames();
    } else {
      av_packet_unref(packet.get());
    }
  }
  TESSERA_CHECK_AV(avcodec_send_packet(decoder.get(), nullptr), context);
  count_decoded_frames();
  return info;
}

}  // namespace tessera::io
