#pragma once
// Floating-point operations of the matrix products in one training step of an MLP energy
// (d → h_1 → … → h_k → 1) and in one Gibbs sweep, as ratiomatch performs them. Used to turn
// measured times into GFLOP/s; element-wise work (activations, exponentials, the optimizer)
// is not counted, and neither is the cost of drawing the flipped bits.
//
// Notation: widths w_0 = d, w_1 … w_k = h_1 … h_k, w_{k+1} = 1, and
//   full  = Σ_{l=0..k} w_l·w_{l+1}   multiply-adds of one row through every layer
//                                     (forward; equally, all weight gradients, or all
//                                     input-delta products of a backward pass)
//   above = Σ_{l=1..k} w_l·w_{l+1}   the same for the layers above the first.
// A multiply-add counts as 2 operations.

#include <ratiomatch/core/types.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ratiomatch::bench {

namespace detail {

/// Multiply-adds of one row through all layers (`full`) and through the layers above the
/// first (`above`), for widths `d, hidden…, 1`, and the width of the first layer's output.
struct LayerCosts {
  double full = 0;
  double above = 0;
  double first_width = 0;
};

inline LayerCosts layer_costs(Index d, const std::vector<Index>& hidden) {
  std::vector<double> widths{static_cast<double>(d)};
  for (const Index h : hidden) widths.push_back(static_cast<double>(h));
  widths.push_back(1.0);
  LayerCosts c;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const double layer = widths[l] * widths[l + 1];
    c.full += layer;
    if (l > 0) c.above += layer;
  }
  c.first_width = widths[1];
  return c;
}

}  // namespace detail

/// @brief Operations of the matrix products of one `loss_and_gradient` call.
///
/// With `F` flipped rows (`F = n·d` for "rm", `F = n·s` for the sampled estimators), the
/// multiply-adds counted are
///
///     base forward                        n · full
///     input gradient (gg-* only)          n · full           input-delta products of all layers
///     flipped rows, first layer           F · h_1            rank-1 update of the base pre-activation
///     flipped rows, forward above first   F · above
///     flipped rows, backward              F · above          weight gradients above the first layer
///                                       + F · above          input deltas above the first layer
///                                       + F · h_1            sparse first-layer weight gradient
///     base rows, backward                 n · full           weight gradients of all layers
///                                       + n · above          input deltas above the first layer
///
/// and the result is twice their sum.
/// @param estimator "rm", "uniform", "gg-basic" or "gg-advanced"
/// @param d input bits
/// @param n batch rows
/// @param s flips per row (ignored for "rm")
/// @param hidden hidden-layer widths h_1 … h_k
/// @throws std::invalid_argument for an unknown estimator name
inline double step_flops(std::string_view estimator, Index d, Index n, Index s, const std::vector<Index>& hidden) {
  const bool exact = estimator == "rm";
  const bool guided = estimator == "gg-basic" || estimator == "gg-advanced";
  if (!exact && !guided && estimator != "uniform")
    throw std::invalid_argument("step_flops: unknown estimator " + std::string(estimator));
  const auto c = detail::layer_costs(d, hidden);
  const double rows = static_cast<double>(n);
  const double flipped = rows * static_cast<double>(exact ? d : s);
  double multiply_adds = rows * c.full;                                  // base forward
  if (guided) multiply_adds += rows * c.full;                            // input gradient
  multiply_adds += flipped * (c.first_width + c.above);                  // flipped forward
  multiply_adds += flipped * (2 * c.above + c.first_width);              // flipped backward
  multiply_adds += rows * (c.full + c.above);                            // base backward
  return 2 * multiply_adds;
}

/// @brief Operations of the matrix products of one systematic-scan Gibbs sweep over `chains`
/// chains: for each of the `d` bits, the `chains` rows with that bit flipped go through the
/// first layer by a rank-1 update (`chains · h_1`) and through the layers above it
/// (`chains · above`); the result is `2 · d · chains · (h_1 + above)`.
/// @param d input bits
/// @param chains number of chains
/// @param hidden hidden-layer widths h_1 … h_k
inline double gibbs_sweep_flops(Index d, Index chains, const std::vector<Index>& hidden) {
  const auto c = detail::layer_costs(d, hidden);
  return 2 * static_cast<double>(d) * static_cast<double>(chains) * (c.first_width + c.above);
}

}  // namespace ratiomatch::bench
