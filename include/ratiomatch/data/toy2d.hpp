#pragma once
/// @file
/// @brief The seven 2-D toy distributions of the FFJORD synthetic experiment (Grathwohl et
/// al. 2019, `lib/toy_data.py`, `inf_train_gen`), used by the RMwGGIS and Gibbs-with-Gradients
/// papers after a Gray-code binarisation (see `gray_code.hpp`). Reimplemented in C++: the
/// same distributions, scalings included, drawn from a caller-supplied engine so a seed
/// reproduces a data set bit for bit on every standard library (the numbers are not those
/// of NumPy's generator; the distributions are the same).

#include <array>
#include <cmath>
#include <numbers>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/data/points2d.hpp"

namespace ratiomatch {

/// @brief The 2-D toy distributions, named as in FFJORD's `inf_train_gen`.
enum class Toy2d { TwoSpirals, EightGaussians, Circles, Moons, Pinwheel, Swissroll, Checkerboard };

/// @brief Every `Toy2d`, in declaration order.
inline const std::array<Toy2d, 7>& all_toy2d() {
  static const std::array<Toy2d, 7> all = {Toy2d::TwoSpirals, Toy2d::EightGaussians, Toy2d::Circles, Toy2d::Moons,
                                           Toy2d::Pinwheel,   Toy2d::Swissroll,      Toy2d::Checkerboard};
  return all;
}

/// @brief The FFJORD name of a distribution: "2spirals", "8gaussians", "circles", "moons",
/// "pinwheel", "swissroll" or "checkerboard".
inline std::string_view to_string(Toy2d which) {
  switch (which) {
    case Toy2d::TwoSpirals: return "2spirals";
    case Toy2d::EightGaussians: return "8gaussians";
    case Toy2d::Circles: return "circles";
    case Toy2d::Moons: return "moons";
    case Toy2d::Pinwheel: return "pinwheel";
    case Toy2d::Swissroll: return "swissroll";
    case Toy2d::Checkerboard: return "checkerboard";
  }
  throw std::invalid_argument(detail::message("ratiomatch::to_string", "Toy2d value (", static_cast<int>(which),
                                              ") is not a Toy2d enumerator"));
}

/// @brief The distribution with FFJORD name `name` (the inverse of `to_string`; exact, case-sensitive).
/// @throws std::invalid_argument for an unknown name, listing the valid names
inline Toy2d parse_toy2d(std::string_view name) {
  for (const Toy2d which : all_toy2d())
    if (to_string(which) == name) return which;
  std::ostringstream valid;
  for (std::size_t k = 0; k < all_toy2d().size(); ++k) valid << (k ? ", " : "") << to_string(all_toy2d()[k]);
  throw std::invalid_argument(detail::message("ratiomatch::parse_toy2d", "unknown 2-D toy data set '", name,
                                              "' (valid names: ", valid.str(), ")"));
}

namespace detail::toy2d {

/// Uniform integer in [0, k) from one `uniform_open01` (reproducible across standard
/// libraries, unlike `std::uniform_int_distribution`); the bias is below k · 2⁻⁵³.
template <std::uniform_random_bit_generator Rng>
Index uniform_below(Rng& rng, Index k) {
  const auto i = static_cast<Index>(uniform_open01(rng) * static_cast<double>(k));
  return i < k ? i : k - 1;
}

/// Fisher–Yates shuffle of the rows of P (sklearn `shuffle` / NumPy `permutation` analogue).
template <std::uniform_random_bit_generator Rng>
void shuffle_rows(Points2d& P, Rng& rng) {
  for (Index i = P.rows() - 1; i > 0; --i) {
    const Index j = uniform_below(rng, i + 1);
    if (j != i) P.row(i).swap(P.row(j));
  }
}

/// Adds `sigma · N(0, 1)` to every entry of P.
template <std::uniform_random_bit_generator Rng>
void add_gaussian_noise(Points2d& P, double sigma, Rng& rng) {
  for (Index i = 0; i < P.rows(); ++i) {
    P(i, 0) += sigma * standard_normal(rng);
    P(i, 1) += sigma * standard_normal(rng);
  }
}

/// NumPy `linspace(start, stop, count)` entry k (endpoint included; `[start]` when count is 1).
inline double linspace_at(double start, double stop, Index count, Index k) {
  if (count <= 1) return start;
  return start + (stop - start) * static_cast<double>(k) / static_cast<double>(count - 1);
}

}  // namespace detail::toy2d

/// @brief Draws `n` points of a 2-D toy distribution, following FFJORD's `inf_train_gen`
/// (scalings included). `U` is uniform on (0, 1), `N` standard normal, all independent:
///
/// - **swissroll** — sklearn `make_swiss_roll(noise=1.0)` keeping coordinates 0 and 2, over 5:
///   `t = 1.5π (1 + 2U)`, point `(t cos t + N, t sin t + N) / 5`.
/// - **circles** — sklearn `make_circles(n, factor=.5, noise=.08)` times 3: `n_out = ⌊n/2⌋`
///   points at angles `2πk/n_out` on the unit circle and `n − n_out` at angles `2πk/n_in` on
///   the circle of radius 0.5, shuffled, plus `0.08 N` per coordinate; then `× 3` (radii 3 and 1.5).
/// - **moons** — sklearn `make_moons(n, noise=.1)`, then `x · 2 + (−1, −0.2)`: `⌊n/2⌋` points
///   `(cos θ, sin θ)` and `n − ⌊n/2⌋` points `(1 − cos θ, 0.5 − sin θ)`, each with `θ` on an
///   evenly spaced grid of `[0, π]` (ends included), shuffled, plus `0.1 N` per coordinate.
/// - **8gaussians** — centre `c` drawn uniformly from the 8 points `4·(±1, 0)`, `4·(0, ±1)`,
///   `4·(±1/√2, ±1/√2)`; point `(0.5 N + c) / 1.414` (clusters at radius `4/1.414 ≈ 2.83`).
/// - **pinwheel** — 5 classes, radial std 0.3, tangential std 0.1, rate 0.25: features
///   `f = (1 + 0.3 N, 0.1 N)`, angle `a = 2πk/5 + 0.25 exp(f₀)` for class `k`, point
///   `2 · (f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a)` (FFJORD's `einsum("ti,tij->tj")`, a rotation
///   by `−a`), rows shuffled. FFJORD returns `5·⌊n/5⌋` points; here the first `n mod 5` classes
///   get one more point, so exactly `n` are returned.
/// - **2spirals** — `m = 3π √U` (FFJORD's `√U · 540 · 2π/360`), `d = (−m cos m + 0.5 U,
///   m sin m + 0.5 U)`; `⌈n/2⌉` points `d/3` and `⌊n/2⌋` points `−d/3` (the mirror images of
///   the first ones), plus `0.1 N` per coordinate, rows shuffled (FFJORD stacks the two spirals
///   unshuffled and returns `2⌊n/2⌋` points).
/// - **checkerboard** — `x₁ = 4U − 2`, `x₂ = U − 2B + (⌊x₁⌋ mod 2)` with `B` a fair bit; point
///   `2 · (x₁, x₂)`: uniform on the 8 squares of side 2 of `[−4, 4]²` with
///   `⌊x/2⌋ + ⌊y/2⌋` even.
///
/// Gaussian variates come from `standard_normal`, uniform ones from `uniform_open01` and
/// shuffles from a Fisher–Yates pass on `uniform_open01`, so the result depends only on the
/// engine's output: a seed reproduces it bit for bit on every standard library.
///
/// @tparam Rng a uniform random bit generator, e.g. `std::mt19937_64`
/// @param which the distribution
/// @param n the number of points
/// @param rng the engine every random number is drawn from
/// @return an `n × 2` matrix, one point per row
/// @throws std::invalid_argument if `n` is not positive or `which` is not a `Toy2d` enumerator
template <std::uniform_random_bit_generator Rng>
Points2d sample_toy2d(Toy2d which, Index n, Rng& rng) {
  constexpr std::string_view where = "ratiomatch::sample_toy2d";
  check_positive(where, "n", n);
  constexpr double pi = std::numbers::pi;
  Points2d P(n, 2);
  switch (which) {
    case Toy2d::Swissroll: {
      for (Index i = 0; i < n; ++i) {
        const double t = 1.5 * pi * (1.0 + 2.0 * uniform_open01(rng));
        const double x = t * std::cos(t) + standard_normal(rng);
        const double z = t * std::sin(t) + standard_normal(rng);
        P(i, 0) = x / 5.0;
        P(i, 1) = z / 5.0;
      }
      return P;
    }
    case Toy2d::Circles: {
      const Index n_out = n / 2, n_in = n - n_out;
      for (Index k = 0; k < n_out; ++k) {
        const double a = 2.0 * pi * static_cast<double>(k) / static_cast<double>(n_out);
        P(k, 0) = std::cos(a);
        P(k, 1) = std::sin(a);
      }
      for (Index k = 0; k < n_in; ++k) {
        const double a = 2.0 * pi * static_cast<double>(k) / static_cast<double>(n_in);
        P(n_out + k, 0) = 0.5 * std::cos(a);
        P(n_out + k, 1) = 0.5 * std::sin(a);
      }
      detail::toy2d::shuffle_rows(P, rng);
      detail::toy2d::add_gaussian_noise(P, 0.08, rng);
      P *= 3.0;
      return P;
    }
    case Toy2d::Moons: {
      const Index n_out = n / 2, n_in = n - n_out;
      for (Index k = 0; k < n_out; ++k) {
        const double a = detail::toy2d::linspace_at(0.0, pi, n_out, k);
        P(k, 0) = std::cos(a);
        P(k, 1) = std::sin(a);
      }
      for (Index k = 0; k < n_in; ++k) {
        const double a = detail::toy2d::linspace_at(0.0, pi, n_in, k);
        P(n_out + k, 0) = 1.0 - std::cos(a);
        P(n_out + k, 1) = 1.0 - std::sin(a) - 0.5;
      }
      detail::toy2d::shuffle_rows(P, rng);
      detail::toy2d::add_gaussian_noise(P, 0.1, rng);
      P.col(0) = P.col(0) * 2.0 - Eigen::VectorXd::Ones(n);
      P.col(1) = P.col(1) * 2.0 - Eigen::VectorXd::Constant(n, 0.2);
      return P;
    }
    case Toy2d::EightGaussians: {
      const double h = 1.0 / std::sqrt(2.0);
      const std::array<std::pair<double, double>, 8> centres = {
          {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {h, h}, {h, -h}, {-h, h}, {-h, -h}}};
      constexpr double scale = 4.0;
      for (Index i = 0; i < n; ++i) {
        const double px = standard_normal(rng) * 0.5;
        const double py = standard_normal(rng) * 0.5;
        const auto& c = centres[static_cast<std::size_t>(detail::toy2d::uniform_below(rng, 8))];
        P(i, 0) = (px + scale * c.first) / 1.414;
        P(i, 1) = (py + scale * c.second) / 1.414;
      }
      return P;
    }
    case Toy2d::Pinwheel: {
      constexpr double radial_std = 0.3, tangential_std = 0.1, rate = 0.25;
      constexpr Index num_classes = 5;
      const Index per_class = n / num_classes, extra = n % num_classes;
      Index i = 0;
      for (Index k = 0; k < num_classes; ++k) {
        const double rad = 2.0 * pi * static_cast<double>(k) / static_cast<double>(num_classes);
        const Index count = per_class + (k < extra ? 1 : 0);
        for (Index t = 0; t < count; ++t, ++i) {
          const double f0 = standard_normal(rng) * radial_std + 1.0;
          const double f1 = standard_normal(rng) * tangential_std;
          const double a = rad + rate * std::exp(f0);
          const double c = std::cos(a), s = std::sin(a);
          P(i, 0) = 2.0 * (f0 * c + f1 * s);
          P(i, 1) = 2.0 * (-f0 * s + f1 * c);
        }
      }
      detail::toy2d::shuffle_rows(P, rng);
      return P;
    }
    case Toy2d::TwoSpirals: {
      const Index first = (n + 1) / 2, second = n / 2;
      for (Index k = 0; k < first; ++k) {
        const double m = std::sqrt(uniform_open01(rng)) * 540.0 * (2.0 * pi) / 360.0;
        const double dx = -std::cos(m) * m + uniform_open01(rng) * 0.5;
        const double dy = std::sin(m) * m + uniform_open01(rng) * 0.5;
        P(k, 0) = dx / 3.0;
        P(k, 1) = dy / 3.0;
        if (k < second) {
          P(first + k, 0) = -dx / 3.0;
          P(first + k, 1) = -dy / 3.0;
        }
      }
      detail::toy2d::add_gaussian_noise(P, 0.1, rng);
      detail::toy2d::shuffle_rows(P, rng);
      return P;
    }
    case Toy2d::Checkerboard: {
      for (Index i = 0; i < n; ++i) {
        const double x1 = uniform_open01(rng) * 4.0 - 2.0;
        const double bit = uniform_open01(rng) < 0.5 ? 0.0 : 1.0;
        const double x2_ = uniform_open01(rng) - 2.0 * bit;
        const double cell = std::floor(x1);
        const double parity = cell - 2.0 * std::floor(cell / 2.0);  // Python's floor(x1) % 2, in {0, 1}
        P(i, 0) = 2.0 * x1;
        P(i, 1) = 2.0 * (x2_ + parity);
      }
      return P;
    }
  }
  throw std::invalid_argument(
      detail::message(where, "which (", static_cast<int>(which), ") is not a Toy2d enumerator"));
}

}  // namespace ratiomatch
