#pragma once
/// @file
/// @brief Readers of the IDX format of (Fashion-)MNIST, gzip-compressed or plain (zlib), and
/// binarisation of the images into batches of bits.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"

namespace ratiomatch {

/// @brief Images of an IDX file (`idx3-ubyte`): `count` images of `rows × cols` pixels
/// (0…255), stored image after image, each row-major (the file's order).
struct IdxImages {
  Index count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  ///< `count · rows · cols` bytes
  /// @brief Pixels per image (`rows · cols`).
  Index pixels_per_image() const { return rows * cols; }
};

/// @brief Thrown when an IDX file cannot be read: the message names the file, the byte offset
/// (in the uncompressed stream) and what was expected.
struct IdxError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

/// Reads an IDX stream through zlib (which passes plain files through), tracking the offset.
class IdxStream {
 public:
  explicit IdxStream(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb"), &gzclose) {
    if (!file_) throw IdxError(message("ratiomatch::read_idx", "cannot open '", path, "'"));
  }

  void read(void* out, std::size_t bytes, std::string_view what) {
    char* p = static_cast<char*>(out);
    std::size_t done = 0;
    while (done < bytes) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(bytes - done, 1u << 30));
      const int got = gzread(file_.get(), p + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* text = gzerror(file_.get(), &code);
        throw IdxError(message("ratiomatch::read_idx", "'", path_, "': corrupt compressed data at byte offset ",
                               offset_ + done, " while reading ", what, " (", text, ")"));
      }
      if (got == 0)
        throw IdxError(message("ratiomatch::read_idx", "'", path_, "' ends at byte offset ", offset_ + done,
                               " while reading ", what, " (", bytes, " bytes from offset ", offset_, ")"));
      done += static_cast<std::size_t>(got);
    }
    offset_ += bytes;
  }

  std::uint32_t big_endian_u32(std::string_view what) {
    std::array<unsigned char, 4> b{};
    read(b.data(), 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  // Throws unless the stream has nothing after what was read.
  void expect_end() {
    char extra = 0;
    const int got = gzread(file_.get(), &extra, 1);
    if (got > 0)
      throw IdxError(message("ratiomatch::read_idx", "'", path_, "' has data after the last item, at byte offset ",
                             offset_));
    if (got < 0) {  // e.g. a damaged gzip trailer (CRC or length) after the last item
      int code = 0;
      const char* text = gzerror(file_.get(), &code);
      throw IdxError(message("ratiomatch::read_idx", "'", path_, "': corrupt compressed data after the last item (",
                             text, ")"));
    }
  }

  std::size_t offset() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file_;
  std::size_t offset_ = 0;
};

// The header: magic 0x0000 08 <dims>, then one big-endian u32 per dimension.
inline std::vector<std::uint32_t> read_idx_header(IdxStream& in, std::uint32_t expected_dims) {
  const std::uint32_t magic = in.big_endian_u32("the magic number");
  const std::uint32_t expected = 0x00000800u | expected_dims;
  if (magic != expected)
    throw IdxError(message("ratiomatch::read_idx", "'", in.path(), "': magic number 0x", std::hex, magic,
                           " at byte offset 0, expected 0x", expected, std::dec, " (unsigned bytes, ", expected_dims,
                           " dimensions)"));
  std::vector<std::uint32_t> sizes(expected_dims);
  for (std::uint32_t k = 0; k < expected_dims; ++k) sizes[k] = in.big_endian_u32("the dimension sizes");
  return sizes;
}

// Reads `total` bytes in chunks, growing `out` as they arrive: a header that claims more data
// than the file holds fails at the file's end, without allocating what it claimed.
inline void read_growing(IdxStream& in, std::vector<std::uint8_t>& out, std::uint64_t total, std::string_view what) {
  constexpr std::uint64_t chunk = std::uint64_t{1} << 24;
  out.clear();
  for (std::uint64_t done = 0; done < total;) {
    const std::uint64_t step = std::min(chunk, total - done);
    out.resize(static_cast<std::size_t>(done + step));
    in.read(out.data() + done, static_cast<std::size_t>(step), what);
    done += step;
  }
}

// The product of the dimension sizes. Refused if the product of the non-zero sizes exceeds 2^40
// (so that no product of sizes, e.g. an image's rows × cols when there are no images, overflows).
inline std::uint64_t checked_item_bytes(const IdxStream& in, const std::vector<std::uint32_t>& sizes) {
  constexpr std::uint64_t limit = std::uint64_t{1} << 40;
  std::uint64_t nonzero = 1;
  bool empty = false;
  for (const std::uint32_t size : sizes) {
    if (size == 0) {
      empty = true;
      continue;
    }
    if (nonzero > limit / size)
      throw IdxError(message("ratiomatch::read_idx", "'", in.path(), "': the dimension sizes in the header describe more "
                             "than 2^40 bytes of data"));
    nonzero *= size;
  }
  return empty ? 0 : nonzero;
}

}  // namespace detail

/// @brief Reads an IDX image file (`idx3-ubyte`, gzip-compressed or plain).
/// @throws IdxError naming the file and byte offset if it cannot be opened, has a wrong magic
///   number, is truncated, corrupt, or has bytes after the last image
inline IdxImages read_idx_images(const std::string& path) {
  detail::IdxStream in(path);
  const auto sizes = detail::read_idx_header(in, 3);
  IdxImages images;
  const std::uint64_t total = detail::checked_item_bytes(in, sizes);
  images.count = sizes[0];
  images.rows = sizes[1];
  images.cols = sizes[2];
  detail::read_growing(in, images.pixels, total, "the pixels");
  in.expect_end();
  return images;
}

/// @brief Reads an IDX label file (`idx1-ubyte`, gzip-compressed or plain).
/// @throws IdxError as `read_idx_images`
inline std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  detail::IdxStream in(path);
  const auto sizes = detail::read_idx_header(in, 1);
  std::vector<std::uint8_t> labels;
  detail::read_growing(in, labels, sizes[0], "the labels");
  in.expect_end();
  return labels;
}

namespace detail {
// One row per image of `value(pixel)`, image by image and pixel by pixel (the order in which
// the random conversions draw).
template <class S, class Value>
Matrix<S> per_pixel(const IdxImages& images, Value&& value) {
  const Index d = images.pixels_per_image();
  Matrix<S> X(images.count, d);
  for (Index r = 0; r < images.count; ++r)
    for (Index i = 0; i < d; ++i) X(r, i) = static_cast<S>(value(images.pixels[static_cast<std::size_t>(r * d + i)]));
  return X;
}
}  // namespace detail

/// @brief One row of bits per image: `x = 1` where the pixel is at least `threshold` (the
/// usual binarisation of MNIST-like data uses 128).
/// @throws std::invalid_argument unless `1 <= threshold <= 255`
template <class S>
Matrix<S> binarize_by_threshold(const IdxImages& images, int threshold = 128) {
  if (threshold < 1 || threshold > 255)
    throw std::invalid_argument(
        detail::message("ratiomatch::binarize_by_threshold", "threshold (", threshold, ") must be in [1, 255]"));
  return detail::per_pixel<S>(images, [&](std::uint8_t p) { return p >= threshold ? 1.0 : 0.0; });
}

/// @brief One row of real pixels per image, uniformly dequantised into (0, 1): `v = (p + u) / 256`
/// with `p ∈ {0, …, 255}` the pixel and `u ~ U(0, 1)` (one `uniform_open01` per pixel, image by
/// image). A density `q` on [0, 1]^d fitted to such data bounds the discrete likelihood of the
/// pixels: `log P(p) ≥ E_u log q(v) − d log 256` nats (Theis, van den Oord & Bethge 2016, eq. 7),
/// so `−(log q(v) − d log 256) / (d log 2)` is the usual bits per pixel.
template <class S, std::uniform_random_bit_generator Rng>
Matrix<S> dequantize_pixels(const IdxImages& images, Rng& rng) {
  return detail::per_pixel<S>(images, [&](std::uint8_t p) { return (p + uniform_open01(rng)) / 256.0; });
}

/// @brief One row of bits per image, drawn independently: `x = 1` with probability
/// `pixel / 255` (stochastic binarisation; one `uniform_open01` per pixel, image by image).
template <class S, std::uniform_random_bit_generator Rng>
Matrix<S> binarize_stochastically(const IdxImages& images, Rng& rng) {
  return detail::per_pixel<S>(images, [&](std::uint8_t p) { return uniform_open01(rng) < p / 255.0 ? 1.0 : 0.0; });
}

/// @brief Where Debian's `dataset-fashion-mnist` puts the files.
inline constexpr std::string_view fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

/// @brief The images of a Fashion-MNIST split: `train-images-idx3-ubyte.gz` (`split = "train"`,
/// 60,000 images) or `t10k-images-idx3-ubyte.gz` (`"test"`, 10,000), 28 × 28 pixels each.
/// @throws std::invalid_argument for another split; IdxError if the file cannot be read (the
///   message says to install `dataset-fashion-mnist`)
inline IdxImages read_fashion_mnist_images(std::string_view split,
                                           const std::string& dir = std::string(fashion_mnist_default_dir)) {
  if (split != "train" && split != "test")
    throw std::invalid_argument(
        detail::message("ratiomatch::read_fashion_mnist_images", "split '", split, "' must be train or test"));
  const auto path = std::filesystem::path(dir) / (split == "train" ? "train-images-idx3-ubyte.gz"
                                                                   : "t10k-images-idx3-ubyte.gz");
  if (!std::filesystem::exists(path))
    throw IdxError(detail::message("ratiomatch::read_fashion_mnist_images", "'", path.string(),
                                   "' does not exist (Debian: apt-get install dataset-fashion-mnist)"));
  return read_idx_images(path.string());
}

}  // namespace ratiomatch
