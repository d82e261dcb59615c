#pragma once
// What the image examples share: a picture of 28 × 28 images (data, samples or filters) as a grid.

#include <ratiomatch/core/types.hpp>
#include <ratiomatch/io/rgb_image.hpp>

#include <algorithm>
#include <cstdint>

namespace ratiomatch::examples {

// A grid of 28 × 28 tiles, `scale` screen pixels per image pixel, one tile per row of `rows`: grey
// levels of values in [0, 1] (clamped), or a diverging colour map scaled to each row's largest |value|.
inline RgbImage tile_grid(const Matrix<float>& rows, int columns, int scale, bool diverging_colours) {
  const int count = static_cast<int>(rows.rows()), grid_rows = (count + columns - 1) / columns, side = 28;
  RgbImage image(columns * (side * scale + 2), grid_rows * (side * scale + 2), {255, 255, 255});
  for (int k = 0; k < count; ++k) {
    const float extent = diverging_colours ? std::max(1e-6f, rows.row(k).cwiseAbs().maxCoeff()) : 1.0f;
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const float v = rows(k, y * side + x);
        const auto grey = static_cast<std::uint8_t>(255 * (1 - std::clamp(v, 0.0f, 1.0f)));  // 1 is black
        const Rgb colour = diverging_colours ? diverging(v / extent) : Rgb{grey, grey, grey};
        image.fill_rect((k % columns) * (side * scale + 2) + x * scale, (k / columns) * (side * scale + 2) + y * scale,
                        (k % columns) * (side * scale + 2) + (x + 1) * scale,
                        (k / columns) * (side * scale + 2) + (y + 1) * scale, colour);
      }
  }
  return image;
}

}  // namespace ratiomatch::examples
