#pragma once
/// @file
/// @brief Training data of the Ising lattice experiments: samples of a known `IsingModel`
/// drawn by Gibbs sampling (Grathwohl et al. 2021, "Oops I Took A Gradient", section 6.1).

#include <random>
#include <string_view>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/ising_model.hpp"
#include "ratiomatch/samplers/gibbs_sampler.hpp"
#include "ratiomatch/samplers/sampler_support.hpp"

namespace ratiomatch {

/// @brief `num_samples` samples of `p(x) ∝ exp(−E(x))` for an Ising model: the final states of
/// `num_samples` independent Gibbs chains, each started at independent Bernoulli(½) bits and
/// run for `sweeps` systematic-scan sweeps.
///
/// The model's energy is `E(x) = −(sᵀJs + bᵀs)` with spins `s = 2x − 1` (see `IsingModel`),
/// so `p(x) ∝ exp(sᵀJs + bᵀs)`: the law of the lattice experiments, whose data are drawn from
/// `log p(x) = sᵀJs + bᵀs − log Z` with `J = σ · A` the adjacency of a periodic lattice
/// (`IsingModel::periodic_lattice`). Sampling uses `GibbsSampler` at `β = 1`: a sweep visits
/// bits `0, …, d−1` in order and redraws each from its exact conditional,
/// `P(flip bit i | x) = σ(−ΔE_i(x))`, which leaves `p` invariant; the chains converge to `p`
/// as `sweeps → ∞`, and the returned rows are independent of each other.
///
/// Protocol of Grathwohl et al. 2021 (the data of the Ising experiments): 2000 chains, each run
/// for 1,000,000 single-site updates, i.e. `1,000,000 / D` sweeps for `D = side²` bits (10,000
/// sweeps for the 10 × 10 lattice, 1,600 for 25 × 25). The cost is `num_samples · sweeps · D`
/// bit updates, each `O(D)` through the model's selected `flip_deltas`; callers may choose
/// fewer sweeps (the lattice's mixing time at the protocol's couplings `σ ≤ 0.5` is far
/// shorter), at their own risk of an unmixed start.
///
/// Randomness: first the start bits, column by column (`num_samples` draws per column), then
/// one `uniform_open01(rng)` per chain per bit per sweep, in `GibbsSampler`'s order; the same
/// engine state gives the same data bit for bit.
/// @tparam S `float` or `double`
/// @tparam Rng a uniform random bit generator, e.g. `std::mt19937_64`
/// @param model the Ising model to sample (e.g. `IsingModel<S>::periodic_lattice(10, 0.25)`)
/// @param num_samples the number of samples (chains), one per row of the result
/// @param sweeps the number of Gibbs sweeps per chain; `0` returns the uniform start
/// @param rng the engine every random draw comes from
/// @return a `num_samples × model.dim()` batch, entries exactly 0 or 1
/// @throws std::invalid_argument if `num_samples <= 0` or `sweeps < 0`
/// @throws NumericalError if an energy change is not finite (a non-finite parameter)
template <class S, std::uniform_random_bit_generator Rng>
Matrix<S> sample_ising_data(const IsingModel<S>& model, Index num_samples, Index sweeps, Rng& rng) {
  constexpr std::string_view where = "ratiomatch::sample_ising_data";
  check_positive(where, "num_samples", num_samples);
  detail::check_nonnegative_count(where, "sweeps", sweeps);
  Matrix<S> X = detail::uniform_bits<S>(num_samples, model.dim(), rng);
  if (sweeps > 0) GibbsSampler(1.0).run(model, X, sweeps, rng);
  return X;
}

}  // namespace ratiomatch
