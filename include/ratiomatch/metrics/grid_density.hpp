#pragma once
/// @file
/// @brief `GridDensity`: a model of 2-D toy data normalised over a grid of the plane, and its KL
/// divergence from the data's histogram on the same grid — a measure of fit that needs no sampler
/// (sampling-based MMD is unreliable when Gibbs chains mix slowly, e.g. at d = 256).

#include <cmath>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/data/gray_code.hpp"
#include "ratiomatch/data/points2d.hpp"

namespace ratiomatch {

/// @brief A square grid of `size × size` cells covering `[−extent, extent]²`; cell `(row, col)`
/// (row 0 at the top, `y = +extent`) has index `row · size + col`.
///
/// - `centres()` — the cell centres, `size² × 2`, in index order (the pixels of a heat map);
/// - `histogram(points)` — the fraction of `points` in each cell (points outside are dropped;
///   `histogram_coverage` is the fraction kept);
/// - `log_density(model, encoder, beta)` — `log q(cell) = −β E(code(centre)) − log Σ exp(−β E)`,
///   the model `exp(−βE)` normalised over the cell centres (coded as the training data are);
/// - `kl_divergence(p, log_q)` — `KL(p ‖ q) = Σ_{p_k > 0} p_k (log p_k − log q_k)` in nats.
/// KL(data ‖ model) is finite for every model (q > 0 everywhere) and is the number the heat map
/// shows: 0 only if the model's heat map is the data histogram.
class GridDensity {
 public:
  /// @throws std::invalid_argument unless `extent` is positive and finite and `size >= 2`
  GridDensity(double extent, Index size) : extent_(extent), size_(size) {
    constexpr std::string_view where = "ratiomatch::GridDensity::GridDensity";
    check_positive(where, "extent", extent);
    check_finite(where, "extent", extent);
    if (size < 2) throw std::invalid_argument(detail::message(where, "size (", size, ") must be at least 2"));
  }

  double extent() const { return extent_; }
  Index size() const { return size_; }
  Index cells() const { return size_ * size_; }

  /// @brief The cell centres, `size² × 2`, row 0 at the top.
  Points2d centres() const {
    Points2d grid(cells(), 2);
    for (Index row = 0; row < size_; ++row)
      for (Index col = 0; col < size_; ++col) {
        grid(row * size_ + col, 0) = extent_ * (2.0 * (static_cast<double>(col) + 0.5) / static_cast<double>(size_) - 1.0);
        grid(row * size_ + col, 1) = extent_ * (1.0 - 2.0 * (static_cast<double>(row) + 0.5) / static_cast<double>(size_));
      }
    return grid;
  }

  /// @brief The cell of point `(x, y)`, or −1 if it lies outside the grid.
  Index cell_of(double x, double y) const {
    const double u = (x / extent_ + 1.0) / 2.0 * static_cast<double>(size_);
    const double v = (1.0 - y / extent_) / 2.0 * static_cast<double>(size_);
    if (!(u >= 0 && u < static_cast<double>(size_) && v >= 0 && v < static_cast<double>(size_))) return -1;
    return static_cast<Index>(v) * size_ + static_cast<Index>(u);
  }

  /// @brief The fraction of `points` in each cell (sums to the fraction inside the grid).
  /// @throws std::invalid_argument if `points` is empty
  Vector<double> histogram(const Points2d& points) const {
    check_positive("ratiomatch::GridDensity::histogram", "points.rows()", points.rows());
    Vector<double> p = Vector<double>::Zero(cells());
    for (Index k = 0; k < points.rows(); ++k) {
      const Index cell = cell_of(points(k, 0), points(k, 1));
      if (cell >= 0) p(cell) += 1.0;
    }
    return p / static_cast<double>(points.rows());
  }

  /// @brief `log q` of the model `exp(−β E)` normalised over the cell centres. Centres outside
  /// the encoder's range code as its largest magnitude (clamped): keep `extent` within the data's
  /// range plus 1, which `GrayCodeEncoder::fit` covers.
  /// @throws NumericalError if an energy or `β·E` is not finite
  template <EnergyModel M>
  Vector<double> log_density(const M& model, const GrayCodeEncoder& encoder, double beta = 1) const {
    using S = typename M::Scalar;
    Vector<S> energy;
    model.energy(encoder.encode<S>(centres()), energy);
    check_finite("ratiomatch::GridDensity::log_density", "energy", energy);
    Vector<double> log_q = -beta * energy.template cast<double>();
    check_finite("ratiomatch::GridDensity::log_density", "beta * energy", log_q);
    const double top = log_q.maxCoeff();
    const double log_z = top + std::log((log_q.array() - top).exp().sum());
    log_q.array() -= log_z;
    return log_q;
  }

  /// @brief `KL(p ‖ q)` in nats over the cells, `p` renormalised to the cells it covers.
  /// @throws std::invalid_argument if the sizes differ or `p` has no mass
  static double kl_divergence(const Vector<double>& p, const Vector<double>& log_q) {
    constexpr std::string_view where = "ratiomatch::GridDensity::kl_divergence";
    check_size_match(where, "p.size()", p.size(), "log_q.size()", log_q.size());
    for (Index k = 0; k < p.size(); ++k)
      if (!(p(k) >= 0) || !std::isfinite(p(k)))
        throw std::invalid_argument(detail::message(where, "p(", k, ") = ", p(k), " is not a finite non-negative mass"));
    const double mass = p.sum();
    check_positive(where, "p.sum()", mass);
    double kl = 0;
    for (Index k = 0; k < p.size(); ++k)
      if (p(k) > 0) kl += p(k) / mass * (std::log(p(k) / mass) - log_q(k));
    return kl;
  }

 private:
  double extent_;
  Index size_;
};

}  // namespace ratiomatch
