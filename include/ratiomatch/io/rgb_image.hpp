#pragma once
/// @file
/// @brief `RgbImage`: an 8-bit RGB raster with a colour map and PNG output.
///
/// PNG encoding uses stb_image_write (Debian `libstb-dev`), compiled into each translation
/// unit that includes this header as static functions, so nothing needs linking.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#ifndef STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_STATIC
#endif
#ifndef STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/io/atomic_file.hpp"

namespace ratiomatch {

/// @brief An 8-bit colour.
struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

/// @brief The viridis colour map (perceptually uniform) at `t ∈ [0, 1]`, by linear
/// interpolation between nine of matplotlib's viridis colours.
inline Rgb viridis(double t) {
  static constexpr std::array<std::array<double, 3>, 9> anchors{{{68, 1, 84},
                                                                  {72, 40, 120},
                                                                  {62, 73, 137},
                                                                  {49, 104, 142},
                                                                  {38, 130, 142},
                                                                  {31, 158, 137},
                                                                  {53, 183, 121},
                                                                  {109, 205, 89},
                                                                  {253, 231, 37}}};
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double position = t * (anchors.size() - 1);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(position), anchors.size() - 2);
  const double w = position - static_cast<double>(k);
  auto mix = [&](int c) { return static_cast<std::uint8_t>(std::lround((1 - w) * anchors[k][c] + w * anchors[k + 1][c])); };
  return {mix(0), mix(1), mix(2)};
}

/// @brief A diverging colour map at `t ∈ [−1, 1]`: blue (−1), white (0), red (+1).
inline Rgb diverging(double t) {
  t = std::isfinite(t) ? std::clamp(t, -1.0, 1.0) : 0.0;
  const std::array<double, 3> blue{33, 102, 172}, red{178, 24, 43}, white{247, 247, 247};
  const auto& end = t < 0 ? blue : red;
  const double w = std::abs(t);
  auto mix = [&](int c) { return static_cast<std::uint8_t>(std::lround((1 - w) * white[c] + w * end[c])); };
  return {mix(0), mix(1), mix(2)};
}

/// @brief A `width × height` RGB image, row 0 at the top.
class RgbImage {
 public:
  /// @throws std::invalid_argument unless both sizes are positive
  RgbImage(int width, int height, Rgb fill = {255, 255, 255}) : width_(width), height_(height) {
    check_positive("ratiomatch::RgbImage::RgbImage", "width", width);
    check_positive("ratiomatch::RgbImage::RgbImage", "height", height);
    pixels_.resize(static_cast<std::size_t>(width) * height * 3);
    for (std::size_t k = 0; k < pixels_.size(); k += 3) pixels_[k] = fill.r, pixels_[k + 1] = fill.g, pixels_[k + 2] = fill.b;
  }

  int width() const { return width_; }
  int height() const { return height_; }

  /// @brief Sets pixel (x, y); pixels outside the image are ignored.
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    auto* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }

  /// @brief Pixel (x, y).
  Rgb at(int x, int y) const {
    const auto* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
    return {p[0], p[1], p[2]};
  }

  /// @brief Mixes colour `c` into pixel (x, y) with opacity `alpha ∈ [0, 1]`.
  void blend(int x, int y, Rgb c, double alpha) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    auto* p = &pixels_[(static_cast<std::size_t>(y) * width_ + x) * 3];
    auto mix = [&](std::uint8_t old, std::uint8_t add) {
      return static_cast<std::uint8_t>(std::lround((1 - alpha) * old + alpha * add));
    };
    p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
  }

  /// @brief Fills the rectangle [x0, x1) × [y0, y1) (clipped to the image).
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(height_, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(width_, x1); ++x) set(x, y, c);
  }

  /// @brief Copies `other` with its top-left corner at (x0, y0).
  void paste(const RgbImage& other, int x0, int y0) {
    for (int y = 0; y < other.height(); ++y)
      for (int x = 0; x < other.width(); ++x) set(x0 + x, y0 + y, other.at(x, y));
  }

  /// @brief Writes the image as a PNG file, never half-written (`write_file_atomically`: stb
  /// encodes into memory, which is then written, flushed and renamed into place).
  /// @throws std::runtime_error naming the path and the reason if it cannot be written
  void save_png(const std::string& path) const {
    std::string bytes;
    const auto append = [](void* context, void* data, int size) {
      static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
    };
    if (stbi_write_png_to_func(append, &bytes, width_, height_, 3, pixels_.data(), width_ * 3) == 0)
      throw std::runtime_error("ratiomatch::RgbImage::save_png: cannot encode '" + path + "'");
    write_file_atomically(path, bytes, "ratiomatch::RgbImage::save_png");
  }

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace ratiomatch
