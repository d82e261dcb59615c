#pragma once
/// @file
/// @brief `BiSM`: bi-level score matching (Bao, Li, Xu, Zhu, Zhang, NeurIPS 2020) for the
/// Gaussian–Bernoulli RBM, whose hidden units are treated as unobserved: the model's marginal
/// score is estimated through a learned variational posterior, with the hypergradient of the
/// unrolled lower level written by hand.

#include <cmath>
#include <optional>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <string_view>
#include <vector>

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/continuous_concepts.hpp"
#include "ratiomatch/core/estimator_state.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/models/gaussian_bernoulli_rbm.hpp"
#include "ratiomatch/optim/adam.hpp"

namespace ratiomatch {

/// @brief The upper-level objective of `BiSM`: bi-level denoising or bi-level sliced score matching.
enum class BiSMObjective { Denoising, Sliced };

/// @brief Settings of `BiSM`; the defaults are the reference code's for the 2-D checkerboard.
struct BiSMOptions {
  BiSMObjective objective = BiSMObjective::Denoising;
  double noise_std = 0.05;   ///< σ of the denoising kernel (bi-level DSM only)
  Index inner_steps = 5;     ///< K: ordinary lower-level steps per update
  Index unroll_steps = 5;    ///< N: unrolled lower-level steps the hypergradient flows through
  /// The posterior's optimizer (Adam, β = (0.9, 0.95), lr 1e-3 as the reference); used for the
  /// K steps and, differentiably, for the N unrolled ones. Its weight decay must be 0.
  AdamOptions posterior_optimizer{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95};
};

/// @brief Bi-level score matching for `GaussianBernoulliRBM` with the variational posterior
/// `q_φ(h | v) = Π_j Bernoulli(μ_j)`, `μ = σ(A v + a)`, `φ = (A, a)` (A hidden × visible,
/// row-major, then a; `posterior_params()`).
///
/// **Score estimate.** For any `h`, `∇_v log p(v) = ∇_v log p̃(v, h) − ∇_v log p(h | v)`; BiSM
/// replaces the true posterior by `q_φ`: `ŝ(v, h) = ∇_v log p̃(v, h) − ∇_v log q_φ(h | v)
/// = −λ ⊙ (v − b) + Wᵀh − Aᵀ(h − μ)`, `λ = e^{−2s}`. Because the energy is linear in `h`, the
/// expectation of the upper objective over `h ~ q_φ` is taken **analytically** here (the
/// reference code draws one binary-Concrete sample at temperature 0.1 instead); with
/// `B = W − A`, `μ' = μ(1 − μ)` and `ŝ̄ = −λ ⊙ (v − b) + Wᵀμ`:
///
///     bi-level DSM:  J = (1/n) Σ_r [ ½‖ŝ̄(ṽ_r) + ε_r/σ‖² + ½ Σ_j μ'_rj ‖B_j‖² ],  ṽ = v + σε,
///     bi-level SSM:  J = (1/n) Σ_r [ ½(uᵀŝ̄)² + ½ Σ_j μ'_j (B_j·u)² − Σ_i λ_i u_i² + Σ_j μ'_j (A_j·u)² ],
///
/// `u` Rademacher (the last two terms are `uᵀ∇_v ŝ u` at fixed `h`). When `q_φ` is the true
/// posterior (`A = W`, `a = c`), `B = 0` and `J` is exactly DSM's (SSM's) objective on the free
/// energy.
///
/// **Lower level.** `φ` minimises the negative ELBO on the same inputs `x` (`ṽ` for DSM, `v` for
/// SSM), also in closed form: with `z = A x + a` and `z* = c + W x`,
/// `G(φ) = (1/n) Σ_r Σ_j [μ_rj (z_rj − z*_rj) − softplus(z_rj)] + const`,
/// `∂G/∂z = μ' ⊙ (z − z*)`, minimised by the true posterior.
///
/// **One update** (`loss_and_gradient`): K Adam steps on `G` (persistent; the posterior and its
/// optimizer state carry over between updates); then from that `φ_0`, N more Adam steps
/// `φ_{k+1} = φ_k − α m̂_{k+1}/(√v̂_{k+1} + ε)`, whose dependence on θ is differentiated; the
/// gradient returned is the hypergradient `dJ(θ, φ_N(θ))/dθ`; φ and its optimizer are then
/// restored to their state after the K steps (the reference's `higher.innerloop_ctx` unroll).
///
/// **Hypergradient** (reverse mode through the unroll, derived by hand). With `g_k = ∇_φ G(φ_k; θ)`,
/// `m_{k+1} = β₁m_k + (1−β₁)g_k`, `v_{k+1} = β₂v_k + (1−β₂)g_k²`, `D = √(v_{k+1}/c₂) + ε` (`c_i` the
/// bias corrections at step `t₀ + k + 1`), and adjoints `φ̄, m̄, v̄` (start: `φ̄ = ∂J/∂φ_N`,
/// `m̄ = v̄ = 0`), for k = N−1 … 0:
///
///     m̄ += −α φ̄ / (c₁ D);   v̄ += α φ̄ m_{k+1} / (c₁ D² · 2√(c₂ v_{k+1}));
///     ḡ = (1−β₁) m̄ + 2(1−β₂) g_k ⊙ v̄;
///     θ̄ += ∇_θ (ḡᵀ g_k(θ));   φ̄ += ∇²_φ G(φ_k) ḡ;   m̄ ← β₁ m̄;   v̄ ← β₂ v̄,
///
/// and `dJ/dθ = ∂J/∂θ + θ̄`. The two second derivatives of `G` are closed-form: with
/// `ż = Ẇ_A x + ȧ` for a direction `(Ẇ_A, ȧ)` in φ, `∇²_φ G` acts through
/// `δ̇ = (μ''(z − z*) + μ') ⊙ ż`, and `∇_θ(ḡᵀ g)` has `∂/∂W = −(1/n) Σ_r (μ' ⊙ ż_r) x_rᵀ`,
/// `∂/∂c = −(1/n) Σ_r μ' ⊙ ż_r` (nothing in b and s). Note that `c` enters `J` only through the
/// posterior: with N = 0 its gradient is zero.
///
/// Randomness per update: the denoising noise (`fill_standard_normal`, column by column) or the
/// Rademacher projections (`fill_rademacher`, column by column). Units: nats per unit² of `v`.
/// Holds the posterior, its optimizer and a workspace that only grows, so that updates of one
/// shape allocate nothing after the first; not for concurrent use.
/// @tparam S `float` or `double`
template <class S>
class BiSM {
 public:
  /// @brief A BiSM estimator for models of `visible` × `hidden` units, posterior `φ = 0`.
  /// @throws std::invalid_argument on non-positive sizes, a negative K or N, a non-positive
  /// `noise_std` for DSM, invalid Adam options or a non-zero posterior weight decay
  BiSM(Index visible, Index hidden, BiSMOptions options = {})
      : options_(options), visible_(visible), hidden_(hidden),
        phi_(Vector<S>::Zero(hidden * (visible + 1))),
        optimizer_(hidden * (visible + 1), options.posterior_optimizer) {
    constexpr std::string_view where = "ratiomatch::BiSM::BiSM";
    check_positive(where, "visible", visible);
    check_positive(where, "hidden", hidden);
    check_options(where, options_);
  }

  const BiSMOptions& options() const { return options_; }
  /// @brief Changes K and N (and the other settings) between updates; the posterior's optimizer
  /// keeps its state and its options, which are fixed at construction (the unrolled steps must
  /// be the steps the optimizer takes).
  /// @throws std::invalid_argument as the constructor, or if `options.posterior_optimizer`
  ///         differs from the optimizer's options
  void set_options(const BiSMOptions& options) {
    constexpr std::string_view where = "ratiomatch::BiSM::set_options";
    check_options(where, options);
    if (!(options.posterior_optimizer == optimizer_.options()))
      throw std::invalid_argument(detail::message(
          where, "options.posterior_optimizer differs from the posterior optimizer's options, which are fixed at "
                 "construction: construct a new BiSM to change them"));
    options_ = options;
  }

  /// @brief The posterior's parameters `φ = (A, a)`, a writable flat view.
  Eigen::Map<Vector<S>> posterior_params() { return {phi_.data(), phi_.size()}; }
  Eigen::Map<const Vector<S>> posterior_params() const { return {phi_.data(), phi_.size()}; }
  /// @brief The posterior's optimizer (its state belongs in a checkpoint).
  Adam<S>& posterior_optimizer() { return optimizer_; }
  const Adam<S>& posterior_optimizer() const { return optimizer_; }

  /// @brief The state a resumed run needs (`StatefulEstimator`): for this scalar type, the
  /// matrices `φ`, the optimizer's `m` and `v` (columns) and its step count (1 × 1).
  EstimatorState state_buffers() const {
    EstimatorState state;
    auto& list = state_list(state);
    list = {phi_, optimizer_.first_moment(), optimizer_.second_moment(),
            Matrix<S>::Constant(1, 1, static_cast<S>(optimizer_.step_count()))};
    return state;
  }

  /// @brief Checks a state from `state_buffers()` without changing anything.
  /// @throws std::invalid_argument naming what does not fit
  void check_state(const EstimatorState& state) const {
    constexpr std::string_view where = "ratiomatch::BiSM::check_state";
    const auto& list = state_list(state);
    const auto& other = other_list(state);
    if (list.size() != 4 || !other.empty())
      throw std::invalid_argument(detail::message(where, "the state must hold 4 matrices of this scalar type (",
                                                  list.size(), " and ", other.size(), " of the other given)"));
    for (std::size_t k = 0; k < 3; ++k)
      if (list[k].rows() != phi_.size() || list[k].cols() != 1)
        throw std::invalid_argument(detail::message(where, "state matrix ", k, " is ", list[k].rows(), " × ",
                                                    list[k].cols(), "; the posterior needs ", phi_.size(), " × 1"));
    if (list[3].size() != 1 || !(list[3](0, 0) >= 0) || list[3](0, 0) != std::floor(list[3](0, 0)))
      throw std::invalid_argument(detail::message(where, "the step count must be one whole number ≥ 0"));
    check_finite(where, "posterior", list[0]);
    optimizer_.check_state(static_cast<Index>(list[3](0, 0)), {list[1], list[2]});
  }

  /// @brief Restores a state that passed `check_state` (nothing changes if it throws).
  void restore_state(const EstimatorState& state) const {
    check_state(state);
    const auto& list = state_list(state);
    optimizer_.restore_state(static_cast<Index>(list[3](0, 0)), {list[1], list[2]});
    phi_ = list[0];
  }

  /// @brief `A, a ~ U(−1/√d, 1/√d)` (PyTorch's `nn.Linear` initialisation, as the reference).
  template <std::uniform_random_bit_generator Rng>
  void initialize_posterior(Rng& rng) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(visible_));
    for (Index k = 0; k < phi_.size(); ++k) phi_(k) = static_cast<S>(bound * (2 * uniform_open01(rng) - 1));
  }

  /// @brief The posterior equal to the model's true posterior `p(h | v)`: `A = W`, `a = c`.
  void set_posterior_to_true(const GaussianBernoulliRBM<S>& model) {
    check_model("ratiomatch::BiSM::set_posterior_to_true", model);
    phi_.head(hidden_ * visible_) = model.params().head(hidden_ * visible_);
    phi_.tail(hidden_) = model.hidden_bias();
  }

  /// @brief One update (see the class): K posterior steps, then the loss `J(θ, φ_N)` at fresh
  /// noise or projections, and its hypergradient into `grad` (resized to `num_params()`).
  /// @throws std::invalid_argument on a model of other sizes, an empty batch or a wrong width
  /// @throws NumericalError on a non-finite entry, loss or gradient (the posterior and its
  /// optimizer are then left as they were before the update)
  template <std::uniform_random_bit_generator Rng>
  S loss_and_gradient(const GaussianBernoulliRBM<S>& model, const Matrix<S>& V, Rng& rng, Vector<S>& grad) const {
    constexpr std::string_view where = "ratiomatch::BiSM::loss_and_gradient";
    check_model(where, model);
    check_real_batch(where, V, visible_);
    draw(V, rng);
    return update(where, model, grad);
  }

  /// @brief `loss_and_gradient` with the caller's draws instead of the engine's: `draws` holds
  /// the standard normal noise `ε` (bi-level DSM: `ṽ = v + σε`) or the projections `u` (bi-level
  /// SSM), `n × d`. For cross-checks against other implementations of the same update.
  /// @throws as `loss_and_gradient`, and std::invalid_argument if `draws` is not shaped like `V`
  S loss_and_gradient_with_draws(const GaussianBernoulliRBM<S>& model, const Matrix<S>& V, const Matrix<S>& draws,
                                 Vector<S>& grad) const {
    constexpr std::string_view where = "ratiomatch::BiSM::loss_and_gradient_with_draws";
    check_model(where, model);
    check_real_batch(where, V, visible_);
    check_same_shape(where, V, draws, "draws");
    if (options_.objective == BiSMObjective::Denoising) {
      const S sigma = static_cast<S>(options_.noise_std);
      work_.x = V + sigma * draws;
      work_.r = draws / -sigma;
    } else {
      work_.x = V;
      work_.r = draws;
    }
    return update(where, model, grad);
  }


  /// @brief The upper-level objective `J(θ, φ)` at the current posterior (no step taken), at
  /// fresh noise or projections.
  template <std::uniform_random_bit_generator Rng>
  S loss(const GaussianBernoulliRBM<S>& model, const Matrix<S>& V, Rng& rng) const {
    constexpr std::string_view where = "ratiomatch::BiSM::loss";
    check_model(where, model);
    check_real_batch(where, V, visible_);
    draw(V, rng);
    Vector<S> g_theta, g_phi;
    const S value = upper(model, phi_, g_theta, g_phi, false);
    check_finite(where, "loss", value);
    return value;
  }

  /// @brief The upper-level objective and its partial derivatives at fixed inputs, for checks:
  /// `x` the inputs (`ṽ` for DSM, `v` for SSM), `target_or_projection` the kernel's score
  /// `−ε/σ` (DSM) or the projections `u` (SSM), both `n × d`. Returns `J`; writes `∂J/∂θ` and
  /// `∂J/∂φ` at fixed φ and θ respectively.
  S upper_objective(const GaussianBernoulliRBM<S>& model, const Matrix<S>& x, const Matrix<S>& target_or_projection,
                    const Vector<S>& phi, Vector<S>& d_theta, Vector<S>& d_phi) const {
    constexpr std::string_view where = "ratiomatch::BiSM::upper_objective";
    check_model(where, model);
    check_real_batch(where, x, visible_, "x");
    check_same_shape(where, x, target_or_projection, "target_or_projection");
    check_size_match(where, "phi.size()", phi.size(), "posterior_params().size()", phi_.size());
    work_.x = x;
    work_.r = target_or_projection;
    return upper(model, phi, d_theta, d_phi, true);
  }

 private:
  // K posterior steps, then the unrolled hypergradient; the posterior is restored on failure.
  S update(std::string_view where, const GaussianBernoulliRBM<S>& model, Vector<S>& grad) const {
    work_.phi_before = phi_;
    if (work_.optimizer_before) *work_.optimizer_before = optimizer_; else work_.optimizer_before.emplace(optimizer_);
    prepare(model);
    try {
      for (Index k = 0; k < options_.inner_steps; ++k) {
        lower_gradient(phi_, work_.g);
        optimizer_.step(phi_, work_.g);
      }
      const S loss = hypergradient(where, model, grad);
      return loss;
    } catch (...) {
      phi_ = work_.phi_before;
      optimizer_ = *work_.optimizer_before;
      throw;
    }
  }


  // The inputs of one update: x (ṽ or v) and r (the kernel's score −ε/σ, or the projections u).
  template <class Rng>
  void draw(const Matrix<S>& V, Rng& rng) const {
    work_.r.resize(V.rows(), V.cols());
    if (options_.objective == BiSMObjective::Denoising) {
      const S sigma = static_cast<S>(options_.noise_std);
      fill_standard_normal(work_.r, rng);
      work_.x = V + sigma * work_.r;
      work_.r /= -sigma;
    } else {
      fill_rademacher(work_.r, rng);
      work_.x = V;
    }
  }

  Eigen::Map<const RowMajorMatrix<S>> weight_of(const Vector<S>& phi) const { return {phi.data(), hidden_, visible_}; }
  Eigen::Map<RowMajorMatrix<S>> weight_of(Vector<S>& phi) const { return {phi.data(), hidden_, visible_}; }

  // z* = x Wᵀ + c, the true posterior's pre-activation: fixed during an update (θ does not move).
  void prepare(const GaussianBernoulliRBM<S>& model) const {
    work_.z_star.noalias() = work_.x * model.weight().transpose();
    work_.z_star.rowwise() += model.hidden_bias().transpose();
  }

  // z = x Aᵀ + a and μ = σ(z) for the posterior φ on work_.x (prepare() must have run).
  void forward(const Vector<S>& phi) const {
    work_.z.noalias() = work_.x * weight_of(phi).transpose();
    work_.z.rowwise() += phi.tail(hidden_).transpose();
    work_.mu = work_.z.array().logistic();
  }

  // g = ∇_φ G(φ) = ((1/n) δᵀx, (1/n) δᵀ1), δ = μ' ⊙ (z − z*).
  void lower_gradient(const Vector<S>& phi, Vector<S>& g) const {
    forward(phi);
    const S inv_n = S(1) / static_cast<S>(work_.x.rows());
    work_.delta = work_.mu.array() * (S(1) - work_.mu.array()) * (work_.z - work_.z_star).array();
    g.resize(phi_.size());
    weight_of(g).noalias() = inv_n * (work_.delta.transpose() * work_.x);
    g.tail(hidden_) = inv_n * work_.delta.colwise().sum().transpose();
  }

  // ż = x Ẇ_Aᵀ + ȧ for a direction in φ (forward() must have run at the same φ).
  void direction_pre_activation(const Vector<S>& direction) const {
    work_.z_dot.noalias() = work_.x * weight_of(direction).transpose();
    work_.z_dot.rowwise() += direction.tail(hidden_).transpose();
  }

  // φ̄ += ∇²_φ G ḡ at φ_k, and ∇_θ(ḡᵀ ∇_φ G)'s row factor μ' ⊙ ż added to work_.mixed_sum: the
  // θ-side products all have x as their right factor, so one product after the loop serves all
  // N steps (forward() must have run at φ_k).
  void add_second_derivatives(const Vector<S>& g_bar, Vector<S>& phi_bar) const {
    direction_pre_activation(g_bar);
    const S inv_n = S(1) / static_cast<S>(work_.x.rows());
    const auto mu = work_.mu.array();
    // μ' ⊙ ż: the mixed derivative's factor, and with κ = μ''(z − z*) + μ' the Hessian's δ̇ = κ ⊙ ż.
    work_.delta = mu * (S(1) - mu) * work_.z_dot.array();
    work_.mixed_sum += work_.delta;
    work_.delta.array() *= (S(1) - S(2) * mu) * (work_.z - work_.z_star).array() + S(1);
    weight_of(phi_bar).noalias() += inv_n * (work_.delta.transpose() * work_.x);
    phi_bar.tail(hidden_) += inv_n * work_.delta.colwise().sum().transpose();
  }

  // d_theta zeroed and d_phi sized, and views of their weight blocks (hidden × visible, row-major).
  std::pair<Eigen::Map<RowMajorMatrix<S>>, Eigen::Map<RowMajorMatrix<S>>> gradient_views(
      const GaussianBernoulliRBM<S>& model, Vector<S>& d_theta, Vector<S>& d_phi) const {
    d_theta.setZero(model.num_params());
    d_phi.resize(phi_.size());
    return {Eigen::Map<RowMajorMatrix<S>>(d_theta.data(), hidden_, visible_),
            Eigen::Map<RowMajorMatrix<S>>(d_phi.data(), hidden_, visible_)};
  }

  // J(θ, φ) on work_.x, work_.r; with gradients, ∂J/∂θ and ∂J/∂φ.
  S upper(const GaussianBernoulliRBM<S>& model, const Vector<S>& phi, Vector<S>& d_theta, Vector<S>& d_phi,
          bool with_gradients) const {
    forward(phi);
    Workspace& w = work_;
    const Index n = w.x.rows();
    const S inv_n = S(1) / static_cast<S>(n);
    const auto W = model.weight();
    const auto A = weight_of(phi);
    w.lambda = (S(-2) * model.log_std().array()).exp();
    w.B = W - A;
    const auto mu = w.mu.array();
    w.slope = mu * (S(1) - mu);  // μ'
    const auto slope = w.slope.array();
    w.centred = w.x.rowwise() - model.visible_bias().transpose();
    // ŝ̄ = −λ ⊙ (x − b) + Wᵀμ, one row per sample.
    w.score.noalias() = w.mu * W;
    w.score -= (w.centred.array().rowwise() * w.lambda.transpose().array()).matrix();
    double value = 0;
    if (options_.objective == BiSMObjective::Denoising) {
      w.b_norms = w.B.rowwise().squaredNorm();
      w.score -= w.r;  // e = ŝ̄ − t
      value = 0.5 * w.score.template cast<double>().squaredNorm() +
              0.5 * (slope.rowwise() * w.b_norms.transpose().array()).template cast<double>().sum();
      if (with_gradients) {
        auto [gW, gA] = gradient_views(model, d_theta, d_phi);
        // γ = ∂J/∂z (times n), n × m.
        w.gamma.noalias() = w.score * W.transpose();
        w.gamma.array() = slope * (w.gamma.array() +
                                   S(0.5) * ((S(1) - S(2) * mu).rowwise() * w.b_norms.transpose().array()));
        w.slope_sum = w.slope.colwise().sum().transpose();
        gW.noalias() = w.mu.transpose() * w.score;
        gW += (w.B.array().colwise() * w.slope_sum.array()).matrix();
        gW *= inv_n;
        w.column_sum = w.score.colwise().sum().transpose();
        d_theta.segment(hidden_ * visible_, visible_) = inv_n * w.lambda.cwiseProduct(w.column_sum);
        w.column_sum = (w.centred.array() * w.score.array()).colwise().sum().transpose();
        d_theta.tail(visible_) = (S(2) * inv_n) * w.lambda.cwiseProduct(w.column_sum);
        gA.noalias() = w.gamma.transpose() * w.x;
        gA -= (w.B.array().colwise() * w.slope_sum.array()).matrix();
        gA *= inv_n;
        d_phi.tail(hidden_) = inv_n * w.gamma.colwise().sum().transpose();
      }
    } else {
      const Matrix<S>& U = w.r;
      w.p = (U.array() * w.score.array()).rowwise().sum();  // uᵀŝ̄
      w.gamma.noalias() = U * W.transpose();               // uᵀW_j, then γ below
      w.alpha.noalias() = U * A.transpose();
      w.beta = w.gamma - w.alpha;                          // uᵀB_j, B = W − A
      const auto alpha = w.alpha.array(), beta = w.beta.array();
      value = 0.5 * w.p.template cast<double>().squaredNorm() +
              (slope * (S(0.5) * beta.square() + alpha.square())).template cast<double>().sum() -
              (U.array().square().rowwise() * w.lambda.transpose().array()).template cast<double>().sum();
      if (with_gradients) {
        auto [gW, gA] = gradient_views(model, d_theta, d_phi);
        w.gamma.array() = slope * (w.gamma.array().colwise() * w.p.array() +
                                   (S(1) - S(2) * mu) * (S(0.5) * beta.square() + alpha.square()));
        w.left = (w.mu.array().colwise() * w.p.array()) + slope * beta;
        gW.noalias() = inv_n * (w.left.transpose() * U);
        w.pu = (U.array().colwise() * w.p.array()).matrix();
        w.column_sum = w.pu.colwise().sum().transpose();
        d_theta.segment(hidden_ * visible_, visible_) = inv_n * w.lambda.cwiseProduct(w.column_sum);
        w.column_sum = ((w.pu.array() * w.centred.array()) + U.array().square()).colwise().sum().transpose();
        d_theta.tail(visible_) = (S(2) * inv_n) * w.lambda.cwiseProduct(w.column_sum);
        w.left = slope * (S(2) * alpha - beta);  // the direct term of ∂J/∂A
        gA.noalias() = w.gamma.transpose() * w.x;
        gA.noalias() += w.left.transpose() * U;
        gA *= inv_n;
        d_phi.tail(hidden_) = inv_n * w.gamma.colwise().sum().transpose();
      }
    }
    return static_cast<S>(value / static_cast<double>(n));
  }

  // The unrolled N steps from φ_0 = phi_, the loss at φ_N and dJ/dθ into grad.
  S hypergradient(std::string_view where, const GaussianBernoulliRBM<S>& model, Vector<S>& grad) const {
    const AdamOptions& o = optimizer_.options();  // the steps unrolled are the optimizer's
    const Index N = options_.unroll_steps, P = phi_.size();
    const auto steps = static_cast<std::size_t>(N);
    const S beta1 = static_cast<S>(o.beta1), beta2 = static_cast<S>(o.beta2), eps = static_cast<S>(o.eps);
    const S lr = static_cast<S>(o.lr);
    Workspace& w = work_;
    w.phis.resize(steps + 1);
    w.phis[0] = phi_;
    for (auto* list : {&w.grads, &w.firsts, &w.seconds}) list->resize(steps);
    w.zs.resize(steps);
    w.mus.resize(steps);
    w.c1.resize(steps);
    w.c2.resize(steps);
    w.m = optimizer_.first_moment();
    w.v = optimizer_.second_moment();
    for (std::size_t k = 0; k < steps; ++k) {
      lower_gradient(w.phis[k], w.grads[k]);
      w.zs[k] = w.z;  // the reverse pass needs z and μ at φ_k again
      w.mus[k] = w.mu;
      const double t = static_cast<double>(optimizer_.step_count()) + static_cast<double>(k + 1);
      w.c1[k] = static_cast<S>(1.0 - std::pow(o.beta1, t));
      w.c2[k] = static_cast<S>(1.0 - std::pow(o.beta2, t));
      const auto g = w.grads[k].array();
      w.m = (beta1 * w.m.array() + (S(1) - beta1) * g).matrix();
      w.v = (beta2 * w.v.array() + (S(1) - beta2) * g * g).matrix();
      w.firsts[k] = w.m;
      w.seconds[k] = w.v;
      w.phis[k + 1] =
          (w.phis[k].array() - lr * (w.m.array() / w.c1[k]) / ((w.v.array() / w.c2[k]).sqrt() + eps)).matrix();
    }
    const S loss = upper(model, w.phis[steps], grad, w.phi_bar, true);
    check_finite(where, "loss", loss);
    w.m_bar.setZero(P);
    w.v_bar.setZero(P);
    w.mixed_sum.setZero(w.x.rows(), hidden_);
    for (std::size_t k = steps; k-- > 0;) {
      const auto m_next = w.firsts[k].array(), v_next = w.seconds[k].array();
      w.root = (v_next / w.c2[k]).sqrt();
      w.denominator = w.root + eps;
      w.m_bar.array() -= lr * w.phi_bar.array() / (w.c1[k] * w.denominator);
      // ∂φ'/∂v' = α m̂ / D² · 1/(2 c₂ √(v'/c₂)); zero where v' = 0 (the gradient was 0 all along).
      w.v_bar.array() += (w.root > S(0)).select(
          lr * w.phi_bar.array() * (m_next / w.c1[k]) / (w.denominator.square() * (S(2) * w.c2[k] * w.root)), S(0));
      w.g_bar = ((S(1) - beta1) * w.m_bar.array() + S(2) * (S(1) - beta2) * w.grads[k].array() * w.v_bar.array())
                    .matrix();
      w.z.swap(w.zs[k]);
      w.mu.swap(w.mus[k]);
      add_second_derivatives(w.g_bar, w.phi_bar);
      w.m_bar *= beta1;
      w.v_bar *= beta2;
    }
    if (N > 0) {  // θ̄: ∂/∂W = −(1/n) Σ_k (μ' ⊙ ż)_kᵀ x, ∂/∂c = −(1/n) Σ_k Σ_r (μ' ⊙ ż)_k,r
      const S inv_n = S(1) / static_cast<S>(w.x.rows());
      Eigen::Map<RowMajorMatrix<S>> theta_W(grad.data(), hidden_, visible_);
      theta_W.noalias() -= inv_n * (w.mixed_sum.transpose() * w.x);
      grad.segment(hidden_ * visible_ + visible_, hidden_) -= inv_n * w.mixed_sum.colwise().sum().transpose();
    }
    check_finite(where, "gradient", grad);
    return loss;
  }

  static auto& state_list(EstimatorState& state) {
    if constexpr (std::is_same_v<S, float>) return state.single; else return state.twice;
  }
  static const auto& state_list(const EstimatorState& state) {
    if constexpr (std::is_same_v<S, float>) return state.single; else return state.twice;
  }
  static const auto& other_list(const EstimatorState& state) {
    if constexpr (std::is_same_v<S, float>) return state.twice; else return state.single;
  }

  void check_model(std::string_view where, const GaussianBernoulliRBM<S>& model) const {
    check_size_match(where, "model.dim()", model.dim(), "the estimator's visible units", visible_);
    check_size_match(where, "model.num_hidden()", model.num_hidden(), "the estimator's hidden units", hidden_);
  }

  static void check_options(std::string_view where, const BiSMOptions& o) {
    if (o.inner_steps < 0)
      throw std::invalid_argument(detail::message(where, "options.inner_steps (", o.inner_steps, ") must be non-negative"));
    if (o.unroll_steps < 0)
      throw std::invalid_argument(
          detail::message(where, "options.unroll_steps (", o.unroll_steps, ") must be non-negative"));
    if (o.objective == BiSMObjective::Denoising && (!(o.noise_std > 0) || !std::isfinite(o.noise_std)))
      throw std::invalid_argument(detail::message(where, "options.noise_std (", o.noise_std, ") must be positive and finite"));
    if (o.posterior_optimizer.weight_decay != 0)
      throw std::invalid_argument(detail::message(where, "options.posterior_optimizer.weight_decay (",
                                                  o.posterior_optimizer.weight_decay,
                                                  ") must be 0: the unrolled steps are differentiated without it"));
  }

  // Everything an update needs, kept between updates so that its storage only grows.
  struct Workspace {
    Matrix<S> x, r, z, mu, z_star, delta, z_dot, centred, score;
    Matrix<S> slope, gamma, alpha, beta, left, pu, mixed_sum;  // n × m (pu: n × d)
    RowMajorMatrix<S> B;                                        // W − A
    Vector<S> g, lambda, b_norms, slope_sum, column_sum, p;
    Vector<S> m, v, phi_bar, m_bar, v_bar, g_bar, phi_before;
    Eigen::Array<S, Eigen::Dynamic, 1> root, denominator;
    std::vector<S> c1, c2;  // Adam's bias corrections at each unrolled step
    std::vector<Vector<S>> phis, grads, firsts, seconds;
    std::vector<Matrix<S>> zs, mus;  // z and μ at each unrolled φ_k
    std::optional<Adam<S>> optimizer_before;
  };

  BiSMOptions options_;
  Index visible_, hidden_;
  // The posterior, its optimizer and the workspace change during the (const) training step,
  // as the persistent chains of PCD do: the trainer holds estimators by const reference.
  mutable Vector<S> phi_;
  mutable Adam<S> optimizer_;
  mutable Workspace work_;
};

}  // namespace ratiomatch
