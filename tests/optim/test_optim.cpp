#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include <ratiomatch/optim/adam.hpp>
#include <ratiomatch/optim/gradient_clipping.hpp>
#include <ratiomatch/optim/sgd.hpp>

#include "test_support.hpp"

using namespace ratiomatch;
using namespace ratiomatch::testing;
using Catch::Matchers::Contains;

namespace {

// The 3-parameter problem of the hand-computed tests: θ0 and three fixed gradients.
Vector<double> theta0() { return (Vector<double>(3) << 1.0, -2.0, 0.5).finished(); }
std::vector<Vector<double>> fixed_gradients() {
  return {(Vector<double>(3) << 0.5, -1.0, 2.0).finished(), (Vector<double>(3) << -0.3, 0.2, 1.0).finished(),
          (Vector<double>(3) << 0.1, 0.0, -4.0).finished()};
}

Vector<double> vec3(double a, double b, double c) { return (Vector<double>(3) << a, b, c).finished(); }

void require_close(const Vector<double>& actual, const Vector<double>& expected, double tol = 1e-12) {
  REQUIRE(actual.size() == expected.size());
  for (Index k = 0; k < actual.size(); ++k) {
    INFO("entry " << k << ": " << actual(k) << " vs " << expected(k));
    REQUIRE(std::abs(actual(k) - expected(k)) <= tol * std::max(1.0, std::abs(expected(k))));
  }
}

// A convex quadratic f(θ) = ½ (θ − c)ᵀ A (θ − c) with A symmetric positive definite
// (eigenvalues 1 … 10); its gradient is A (θ − c) and its minimiser c.
struct Quadratic {
  Matrix<double> A;
  Vector<double> c;
  Quadratic() : A(3, 3), c(3) {
    A << 4, 1, 0.5,  //
        1, 6, 2,     //
        0.5, 2, 3;
    c << 1.5, -0.5, 2.0;
  }
  template <class S>
  Vector<S> gradient(const Vector<S>& theta) const {
    return (A.cast<S>() * (theta - c.cast<S>())).eval();
  }
  template <class S>
  double value(const Vector<S>& theta) const {
    const Vector<double> r = theta.template cast<double>() - c;
    return 0.5 * r.dot(A * r);
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Adam
// ---------------------------------------------------------------------------------------------

TEST_CASE("Adam: three hand-computed steps with weight decay and bias correction", "[optim][adam]") {
  // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8, λ = 0.01; θ0 = (1, −2, 0.5).
  Adam<double> adam(3, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01});
  Vector<double> theta = theta0();
  const auto grads = fixed_gradients();

  // Step 1: g' = g + 0.01 θ0 = (0.51, −1.02, 2.005); m = 0.1 g'; v = 0.001 g'²;
  // bc1 = 0.1, bc2 = 0.001, so m̂ = g', v̂ = g'², and θ1 = θ0 − 0.1 g' / (|g'| + 1e-8).
  adam.step(theta, grads[0]);
  const Vector<double> g1 = vec3(0.51, -1.02, 2.005);
  require_close(adam.first_moment(), 0.1 * g1);
  require_close(adam.second_moment(), 0.001 * g1.cwiseProduct(g1));
  const Vector<double> theta1 =
      theta0() - (0.1 * g1.array() / (g1.array().abs() + 1e-8)).matrix();
  require_close(theta, theta1);
  REQUIRE(adam.step_count() == 1);

  // Step 2: g' = g2 + 0.01 θ1; m = 0.9 m1 + 0.1 g'; v = 0.999 v1 + 0.001 g'²;
  // bc1 = 1 − 0.81 = 0.19, bc2 = 1 − 0.998001 = 0.001999;
  // θ2 = θ1 − (0.1/0.19) m / (sqrt(v)/sqrt(0.001999) + 1e-8).
  adam.step(theta, grads[1]);
  const Vector<double> g2 = grads[1] + 0.01 * theta1;
  const Vector<double> m2 = 0.9 * (0.1 * g1) + 0.1 * g2;
  const Vector<double> v2 = 0.999 * (0.001 * g1.cwiseProduct(g1)) + 0.001 * g2.cwiseProduct(g2);
  const Vector<double> theta2 =
      theta1 - ((0.1 / 0.19) * m2.array() / (v2.array().sqrt() / std::sqrt(0.001999) + 1e-8)).matrix();
  require_close(adam.first_moment(), m2);
  require_close(adam.second_moment(), v2);
  require_close(theta, theta2);

  // Step 3: the same recursion once more; the numbers below come from a plain-Python (IEEE
  // double) transcription of torch 1.13's `_single_tensor_adam` (same order of operations),
  // since torch itself was not installed: θ3, m3, v3 printed with repr().
  adam.step(theta, grads[2]);
  require_close(theta, vec3(0.8508660603086755, -1.804957449198883, 0.327244742503505));
  require_close(adam.first_moment(), vec3(0.025998701245634914, -0.06817703384557472, -0.1469282398347666));
  require_close(adam.second_moment(),
                vec3(0.00035601099316393827, 0.0010713896327987993, 0.020994465551032133));
  // The same script's step-2 numbers agree with the hand arithmetic above.
  require_close(theta2, vec3(0.8787012438702138, -1.8470338446923904, 0.30676016478451706));
  REQUIRE(adam.step_count() == 3);
}

TEMPLATE_TEST_CASE("Adam: the first step moves every parameter by ≈ lr against the sign of its gradient",
                   "[optim][adam]", float, double) {
  using S = TestType;
  std::mt19937_64 rng(101);
  const Index n = 200;
  const double lr = 1e-3;
  // Gradients of both signs and magnitudes from 1e-2 to 1e3; parameters start at 0 so that the
  // move is not rounded away against a large θ.
  Vector<S> grad(n);
  for (Index k = 0; k < n; ++k) {
    const double magnitude = std::pow(10.0, -2.0 + 5.0 * uniform_open01(rng));
    grad(k) = static_cast<S>(uniform_open01(rng) < 0.5 ? -magnitude : magnitude);
  }
  Vector<S> theta = Vector<S>::Zero(n);
  Adam<S> adam(n, {.lr = lr});
  adam.step(theta, grad);
  // |Δθ| = lr |g| / (|g| + ε): relative deficit ε/|g| ≤ 1e-6, plus rounding in S.
  const double rel_tol = std::is_same_v<S, float> ? 1e-5 : 2e-6;
  for (Index k = 0; k < n; ++k) {
    INFO("k = " << k << ", g = " << grad(k) << ", Δθ = " << theta(k));
    REQUIRE(std::signbit(theta(k)) != std::signbit(grad(k)));
    REQUIRE(std::abs(std::abs(static_cast<double>(theta(k))) - lr) <= rel_tol * lr);
  }
}

TEST_CASE("Adam in float follows Adam in double", "[optim][adam]") {
  Adam<double> ad(3, {.lr = 0.05, .weight_decay = 0.1});
  Adam<float> af(3, {.lr = 0.05, .weight_decay = 0.1});
  Vector<double> td = theta0();
  Vector<float> tf = theta0().cast<float>();
  const Quadratic q;
  for (int t = 0; t < 20; ++t) {
    ad.step(td, q.gradient(td));
    af.step(tf, q.gradient(tf));
  }
  REQUIRE((tf.cast<double>() - td).cwiseAbs().maxCoeff() < 1e-5);
  REQUIRE((td - theta0()).norm() > 0.5);  // it did move
}

TEMPLATE_TEST_CASE("Adam minimises a convex quadratic", "[optim][adam]", float, double) {
  using S = TestType;
  const Quadratic q;
  Vector<S> theta = Vector<S>::Zero(3);
  Adam<S> adam(3, {.lr = 0.05});
  const double start = q.value(theta);
  for (int t = 0; t < 3000; ++t) {
    if (t == 1500) adam.set_learning_rate(0.005);
    adam.step(theta, q.gradient(theta));
  }
  INFO("θ = " << theta.transpose());
  REQUIRE(q.value(theta) < 1e-6 * start);
  REQUIRE((theta.template cast<double>() - q.c).cwiseAbs().maxCoeff() < 1e-3);
  REQUIRE(adam.options().lr == 0.005);
}

TEST_CASE("Adam: restoring the saved state into a fresh optimizer continues bit for bit", "[optim][adam]") {
  const Quadratic q;
  const AdamOptions options{.lr = 0.02, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.05};
  Adam<double> original(3, options);
  Vector<double> theta = theta0();
  for (int t = 0; t < 7; ++t) original.step(theta, q.gradient(theta));

  // Save: through the accessors, and through the checkpoint form.
  const Index saved_steps = original.step_count();
  const Vector<double> saved_m = original.first_moment(), saved_v = original.second_moment();
  const std::vector<Vector<double>> buffers = original.state_buffers();
  REQUIRE(buffers.size() == 2);
  const Vector<double> saved_theta = theta;

  Adam<double> restored(3, options), from_buffers(3, options), fresh(3, options);
  restored.set_state(saved_steps, saved_m, saved_v);
  from_buffers.restore_state(saved_steps, buffers);
  Vector<double> theta_r = saved_theta, theta_b = saved_theta, theta_f = saved_theta;
  for (int t = 0; t < 9; ++t) {
    original.step(theta, q.gradient(theta));
    restored.step(theta_r, q.gradient(theta_r));
    from_buffers.step(theta_b, q.gradient(theta_b));
    fresh.step(theta_f, q.gradient(theta_f));
  }
  REQUIRE(restored.step_count() == 16);
  REQUIRE(theta_r == theta);  // bit-identical
  REQUIRE(theta_b == theta);
  REQUIRE(restored.first_moment() == original.first_moment());
  REQUIRE(restored.second_moment() == original.second_moment());
  // Without the state the continuation differs (so the comparison above can fail).
  REQUIRE((theta_f - theta).cwiseAbs().maxCoeff() > 1e-6);
}

TEST_CASE("Adam rejects bad options and arguments, naming the function", "[optim][adam][errors]") {
  using E = std::invalid_argument;
  REQUIRE_THROWS_WITH(Adam<double>(3, {.lr = 0}), Contains("ratiomatch::Adam::Adam") && Contains("options.lr"));
  REQUIRE_THROWS_AS(Adam<double>(3, {.lr = -1e-3}), E);
  REQUIRE_THROWS_AS(Adam<double>(3, {.lr = std::numeric_limits<double>::quiet_NaN()}), E);
  REQUIRE_THROWS_WITH(Adam<double>(3, {.beta1 = 1.0}), Contains("ratiomatch::Adam::Adam") && Contains("beta1"));
  REQUIRE_THROWS_AS(Adam<double>(3, {.beta1 = -0.1}), E);
  REQUIRE_THROWS_WITH(Adam<double>(3, {.beta2 = 1.0}), Contains("beta2") && Contains("[0, 1)"));
  REQUIRE_THROWS_AS(Adam<double>(3, {.eps = -1e-8}), E);
  REQUIRE_THROWS_AS(Adam<double>(3, {.weight_decay = -0.1}), E);
  REQUIRE_THROWS_AS(Adam<double>(-1), E);
  REQUIRE_NOTHROW(Adam<double>(3, {.beta1 = 0.0, .beta2 = 0.0}));

  Adam<double> adam(3);
  Vector<double> theta = theta0(), short_grad(2), grad = fixed_gradients()[0], wide(4);
  short_grad << 1, 2;
  REQUIRE_THROWS_WITH(adam.step(theta, short_grad),
                      Contains("ratiomatch::Adam::step") && Contains("grad.size() (2)") && Contains("(3)"));
  wide.setZero();
  REQUIRE_THROWS_WITH(adam.step(wide, grad), Contains("ratiomatch::Adam::step") && Contains("params.size() (4)"));
  REQUIRE_THROWS_WITH(adam.set_learning_rate(0.0), Contains("ratiomatch::Adam::set_learning_rate"));
  REQUIRE_THROWS_WITH(adam.set_state(1, short_grad, grad), Contains("ratiomatch::Adam::set_state") && Contains("m.size()"));
  REQUIRE_THROWS_WITH(adam.set_state(1, grad, short_grad), Contains("v.size()"));
  REQUIRE_THROWS_WITH(adam.set_state(-1, grad, grad.cwiseAbs()), Contains("step_count (-1)"));
  REQUIRE_THROWS_WITH(adam.set_state(1, grad, grad), Contains("negative"));  // grad has −1.0
  REQUIRE_THROWS_WITH(adam.restore_state(1, {grad}), Contains("ratiomatch::Adam::restore_state") && Contains("(1)"));
  REQUIRE(adam.step_count() == 0);  // nothing was changed by the rejected calls

  // A non-finite gradient is a numerical error, caught before the state or θ changes.
  adam.step(theta, grad);
  const Vector<double> theta_before = theta, m_before = adam.first_moment();
  Vector<double> bad = grad;
  bad(1) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(adam.step(theta, bad), NumericalError);
  REQUIRE_THROWS_WITH(adam.step(theta, bad), Contains("ratiomatch::Adam::step") && Contains("grad(1)"));
  REQUIRE(theta == theta_before);
  REQUIRE(adam.first_moment() == m_before);
  REQUIRE(adam.step_count() == 1);
}

// ---------------------------------------------------------------------------------------------
// SGD
// ---------------------------------------------------------------------------------------------

TEST_CASE("Sgd without momentum is θ ← θ − lr (g + λθ)", "[optim][sgd]") {
  Sgd<double> sgd(3, {.lr = 0.1, .weight_decay = 0.01});
  Vector<double> theta = theta0();
  const auto grads = fixed_gradients();
  Vector<double> expected = theta0();
  for (const auto& g : grads) {
    expected = expected - 0.1 * (g + 0.01 * expected);
    sgd.step(theta, g);
  }
  require_close(theta, expected);
  // Step 1 by hand: θ1 = (1, −2, 0.5) − 0.1 (0.51, −1.02, 2.005) = (0.949, −1.898, 0.2995).
  Sgd<double> once(3, {.lr = 0.1, .weight_decay = 0.01});
  theta = theta0();
  once.step(theta, grads[0]);
  require_close(theta, vec3(0.949, -1.898, 0.2995));
  REQUIRE(once.momentum_buffer() == Vector<double>::Zero(3));
}

TEST_CASE("Sgd with momentum and dampening: three hand-computed steps", "[optim][sgd]") {
  // lr = 0.1, μ = 0.9, δ = 0.1, λ = 0.01.
  Sgd<double> sgd(3, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  Vector<double> theta = theta0();
  const auto grads = fixed_gradients();

  // Step 1: the buffer is the (decayed) gradient itself, undamped: b = g' = (0.51, −1.02, 2.005);
  // θ1 = θ0 − 0.1 b = (0.949, −1.898, 0.2995).
  sgd.step(theta, grads[0]);
  require_close(sgd.momentum_buffer(), vec3(0.51, -1.02, 2.005));
  require_close(theta, vec3(0.949, -1.898, 0.2995));

  // Step 2: g' = g2 + 0.01 θ1 = (−0.29051, 0.18102, 1.002995);
  // b = 0.9 b1 + 0.9 g' = (0.197541, −0.755082, 2.7071955); θ2 = θ1 − 0.1 b.
  sgd.step(theta, grads[1]);
  require_close(sgd.momentum_buffer(), vec3(0.197541, -0.755082, 2.7071955));
  require_close(theta, vec3(0.9292459, -1.8224918, 0.02878045));

  // Step 3: from the plain-Python transcription of torch 1.13's `_single_tensor_sgd`.
  sgd.step(theta, grads[2]);
  require_close(sgd.momentum_buffer(), vec3(0.27615011310000004, -0.6959762262, -1.16326502595));
  require_close(theta, vec3(0.90163088869, -1.75289417738, 0.14510695259499995));
  REQUIRE(sgd.step_count() == 3);
}

TEST_CASE("Sgd with Nesterov momentum: three hand-computed steps", "[optim][sgd]") {
  // lr = 0.1, μ = 0.9, δ = 0, λ = 0.01, nesterov.
  Sgd<double> sgd(3, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  Vector<double> theta = theta0();
  const auto grads = fixed_gradients();

  // Step 1: b = g' = (0.51, −1.02, 2.005); update g' + 0.9 b = 1.9 g';
  // θ1 = θ0 − 0.19 g' = (0.9031, −1.8062, 0.11905).
  sgd.step(theta, grads[0]);
  require_close(theta, vec3(0.9031, -1.8062, 0.11905));

  // Step 2: g' = g2 + 0.01 θ1 = (−0.290969, 0.181938, 1.0011905); b = 0.9 b1 + g';
  // θ2 = θ1 − 0.1 (g' + 0.9 b).
  sgd.step(theta, grads[1]);
  const Vector<double> g2 = vec3(-0.290969, 0.181938, 1.0011905);
  const Vector<double> b2 = 0.9 * vec3(0.51, -1.02, 2.005) + g2;
  require_close(sgd.momentum_buffer(), b2);
  require_close(theta, vec3(0.9031, -1.8062, 0.11905) - 0.1 * (g2 + 0.9 * b2));

  // Step 3: from the plain-Python transcription of torch 1.13's `_single_tensor_sgd`.
  sgd.step(theta, grads[2]);
  require_close(sgd.momentum_buffer(), vec3(0.26039864110000005, -0.6800372822, -1.4772143619500002));
  require_close(theta, vec3(0.882721158191, -1.695186716382, 0.29960167877050004));
}

TEMPLATE_TEST_CASE("Sgd minimises a convex quadratic, with and without momentum", "[optim][sgd]", float, double) {
  using S = TestType;
  const Quadratic q;  // largest eigenvalue of A is below 8
  for (const SgdOptions options : {SgdOptions{.lr = 0.1}, SgdOptions{.lr = 0.05, .momentum = 0.9},
                                   SgdOptions{.lr = 0.05, .momentum = 0.5, .nesterov = true}}) {
    Sgd<S> sgd(3, options);
    Vector<S> theta = Vector<S>::Zero(3);
    for (int t = 0; t < 1000; ++t) sgd.step(theta, q.gradient(theta));
    INFO("momentum " << options.momentum << ", θ = " << theta.transpose());
    REQUIRE((theta.template cast<double>() - q.c).cwiseAbs().maxCoeff() < (std::is_same_v<S, float> ? 1e-5 : 1e-10));
  }
}

TEST_CASE("Sgd: restoring the saved state into a fresh optimizer continues bit for bit", "[optim][sgd]") {
  const Quadratic q;
  const SgdOptions options{.lr = 0.03, .momentum = 0.9, .dampening = 0.2, .weight_decay = 0.01};
  Sgd<double> original(3, options);
  Vector<double> theta = theta0();
  for (int t = 0; t < 5; ++t) original.step(theta, q.gradient(theta));
  const Index saved_steps = original.step_count();
  const Vector<double> saved_buffer = original.momentum_buffer();
  const std::vector<Vector<double>> buffers = original.state_buffers();
  REQUIRE(buffers.size() == 1);

  Sgd<double> restored(3, options), from_buffers(3, options), fresh(3, options);
  restored.set_state(saved_steps, saved_buffer);
  from_buffers.restore_state(saved_steps, buffers);
  Vector<double> theta_r = theta, theta_b = theta, theta_f = theta;
  for (int t = 0; t < 8; ++t) {
    original.step(theta, q.gradient(theta));
    restored.step(theta_r, q.gradient(theta_r));
    from_buffers.step(theta_b, q.gradient(theta_b));
    fresh.step(theta_f, q.gradient(theta_f));
  }
  REQUIRE(theta_r == theta);
  REQUIRE(theta_b == theta);
  REQUIRE(restored.momentum_buffer() == original.momentum_buffer());
  REQUIRE(restored.step_count() == 13);
  REQUIRE((theta_f - theta).cwiseAbs().maxCoeff() > 1e-6);

  // The momentum buffer is refused by an optimizer without momentum (it would be dropped); the
  // state of an optimizer without momentum (a zero buffer) fits one with momentum or without.
  Sgd<double> plain(3, {.lr = 0.03});
  REQUIRE_THROWS_WITH(plain.check_state(saved_steps, buffers),
                      Contains("ratiomatch::Sgd::check_state") && Contains("options.momentum is 0"));
  REQUIRE_THROWS_WITH(plain.restore_state(saved_steps, buffers), Contains("ratiomatch::Sgd::restore_state"));
  REQUIRE_THROWS_WITH(plain.set_state(saved_steps, saved_buffer), Contains("ratiomatch::Sgd::set_state"));
  REQUIRE(plain.step_count() == 0);
  Vector<double> theta_p = theta0();
  plain.step(theta_p, q.gradient(theta_p));
  REQUIRE_NOTHROW(Sgd<double>(3, {.lr = 0.03}).restore_state(1, plain.state_buffers()));
  REQUIRE_NOTHROW(Sgd<double>(3, options).check_state(1, plain.state_buffers()));
}

TEST_CASE("Sgd rejects bad options and arguments, naming the function", "[optim][sgd][errors]") {
  using E = std::invalid_argument;
  REQUIRE_THROWS_WITH(Sgd<double>(3, {.lr = 0}), Contains("ratiomatch::Sgd::Sgd") && Contains("options.lr"));
  REQUIRE_THROWS_AS(Sgd<double>(3, {.momentum = -0.5}), E);
  REQUIRE_THROWS_AS(Sgd<double>(3, {.weight_decay = -1}), E);
  REQUIRE_THROWS_WITH(Sgd<double>(3, {.nesterov = true}), Contains("nesterov"));
  REQUIRE_THROWS_WITH(Sgd<double>(3, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      Contains("dampening == 0"));
  REQUIRE_THROWS_AS(Sgd<double>(-2), E);

  Sgd<double> sgd(3, {.momentum = 0.9});
  Vector<double> theta = theta0(), grad = fixed_gradients()[0], short_grad(2);
  short_grad << 1, 2;
  REQUIRE_THROWS_WITH(sgd.step(theta, short_grad), Contains("ratiomatch::Sgd::step") && Contains("grad.size() (2)"));
  REQUIRE_THROWS_WITH(sgd.set_state(1, short_grad), Contains("ratiomatch::Sgd::set_state") && Contains("buffer.size()"));
  REQUIRE_THROWS_WITH(sgd.set_state(-3, grad), Contains("step_count (-3)"));
  REQUIRE_THROWS_WITH(sgd.restore_state(1, {grad, grad}), Contains("ratiomatch::Sgd::restore_state"));
  REQUIRE_THROWS_WITH(sgd.set_learning_rate(-1), Contains("ratiomatch::Sgd::set_learning_rate"));
  Vector<double> bad = grad;
  bad(2) = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_AS(sgd.step(theta, bad), NumericalError);
  REQUIRE(theta == theta0());
  REQUIRE(sgd.step_count() == 0);
}

// ---------------------------------------------------------------------------------------------
// Gradient clipping
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("clip_gradient_norm leaves a gradient below the threshold unchanged", "[optim][clip]", float,
                   double) {
  using S = TestType;
  Vector<S> g(4);
  g << S(0.3), S(-0.4), S(1.2), S(0);  // ‖g‖ = 1.3
  const Vector<S> before = g;
  const S norm = clip_gradient_norm(g, 2.0);
  REQUIRE(norm == Approx(1.3).epsilon(Tolerance<S>::relative));
  REQUIRE(g == before);
  // At the threshold itself clip_coef = 1.3 / (1.3 + 1e-6) < 1: PyTorch scales by it.
  const S at = clip_gradient_norm(g, 1.3);
  REQUIRE(at == Approx(1.3).epsilon(Tolerance<S>::relative));
  REQUIRE(static_cast<double>(g.norm()) == Approx(1.3 * 1.3 / (1.3 + 1e-6)).epsilon(Tolerance<S>::relative));
  // A zero gradient has norm 0 and stays zero.
  Vector<S> zero = Vector<S>::Zero(5);
  REQUIRE(clip_gradient_norm(zero, 1.0) == S(0));
  REQUIRE(zero == Vector<S>::Zero(5));
}

TEMPLATE_TEST_CASE("clip_gradient_norm rescales a gradient above the threshold, keeping its direction",
                   "[optim][clip]", float, double) {
  using S = TestType;
  Vector<S> g(3);
  g << S(3), S(-4), S(12);  // ‖g‖ = 13
  const Vector<S> before = g;
  const S norm = clip_gradient_norm(g, 1.0);
  REQUIRE(norm == Approx(13.0).epsilon(Tolerance<S>::relative));  // the norm before clipping
  // g ← g · 1/(13 + 1e-6): the new norm is 13/(13 + 1e-6), a hair below max_norm.
  const double coef = 1.0 / (13.0 + 1e-6);
  for (Index k = 0; k < 3; ++k) REQUIRE(g(k) == Approx(before(k) * coef).epsilon(Tolerance<S>::relative));
  REQUIRE(static_cast<double>(g.norm()) == Approx(13.0 * coef).epsilon(Tolerance<S>::relative));
  REQUIRE(static_cast<double>(g.norm()) < 1.0);
  // Same direction: g is a positive multiple of the original.
  REQUIRE(static_cast<double>(g.dot(before)) == Approx(static_cast<double>(g.norm() * before.norm())).epsilon(1e-5));
  // max_norm = +inf never clips.
  Vector<S> h = before;
  REQUIRE(clip_gradient_norm(h, std::numeric_limits<double>::infinity()) == norm);
  REQUIRE(h == before);
}

TEST_CASE("clip_gradient_norm works on a view and on a sub-vector", "[optim][clip]") {
  std::vector<double> storage{3.0, 4.0, 100.0};
  Eigen::Map<Vector<double>> head(storage.data(), 2);  // (3, 4): norm 5
  REQUIRE(clip_gradient_norm(head, 0.5) == Approx(5.0));
  REQUIRE(storage[0] == Approx(3.0 * 0.5 / (5.0 + 1e-6)));
  REQUIRE(storage[2] == 100.0);  // outside the view
  Vector<double> g(4);
  g << 1, 3, 4, 1;
  REQUIRE(clip_gradient_norm<double>(g.segment(1, 2), 1.0) == Approx(5.0));
  REQUIRE(g(0) == 1.0);
  REQUIRE(g(1) == Approx(3.0 / (5.0 + 1e-6)));
}

TEST_CASE("clip_gradient_norm's float norm is the double-accumulated norm at every length", "[optim][clip]") {
  // The float path sums in eight partial sums; every length (below, at and above multiples of
  // eight) must give the norm of the entries, each entry counted once.
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Index n : {1, 7, 8, 9, 15, 16, 17, 1001}) {
    Vector<float> g(n);
    for (Index k = 0; k < n; ++k) g(k) = normal(rng);
    long double reference = 0;
    for (Index k = 0; k < n; ++k) reference += static_cast<long double>(g(k)) * g(k);
    const Vector<float> before = g;
    const double norm = detail::gradient_two_norm<float>(g);
    REQUIRE(norm == Approx(static_cast<double>(std::sqrt(reference))).epsilon(1e-14));
    REQUIRE(static_cast<double>(clip_gradient_norm(g, 1e9)) == Approx(norm).epsilon(1e-7));
    REQUIRE(g == before);  // below the threshold: unchanged
  }
}

TEST_CASE("clip_gradient_norm does not overflow on large finite gradients", "[optim][clip]") {
  // Double: the plain sum of squares overflows (1e200² = inf); the scaled norm does not.
  Vector<double> g = Vector<double>::Constant(4, 1e200);
  REQUIRE(clip_gradient_norm(g, 1.0) == Approx(2e200));
  REQUIRE(g(0) == Approx(0.5));
  // Float: 1e30² overflows float but not the double accumulator.
  Vector<float> f = Vector<float>::Constant(4, 1e30f);
  REQUIRE(static_cast<double>(clip_gradient_norm(f, 1.0)) == Approx(2e30).epsilon(1e-6));
  REQUIRE(static_cast<double>(f(0)) == Approx(0.5).epsilon(1e-6));
  // Float whose norm itself exceeds FLT_MAX: a numerical error, the gradient unchanged.
  Vector<float> huge = Vector<float>::Constant(4, 3e38f);
  REQUIRE_THROWS_WITH(clip_gradient_norm(huge, 1.0), Contains("ratiomatch::clip_gradient_norm") && Contains("overflows"));
  REQUIRE(huge(0) == 3e38f);
}

TEST_CASE("clip_gradient_norm rejects non-finite gradients and a non-positive max_norm", "[optim][clip][errors]") {
  Vector<double> g(3);
  g << 1, std::numeric_limits<double>::quiet_NaN(), 2;
  REQUIRE_THROWS_AS(clip_gradient_norm(g, 1.0), NumericalError);
  REQUIRE_THROWS_WITH(clip_gradient_norm(g, 1.0),
                      Contains("ratiomatch::clip_gradient_norm") && Contains("not finite") && Contains("grad(1)"));
  Vector<float> f(2);
  f << std::numeric_limits<float>::infinity(), 1.0f;
  REQUIRE_THROWS_WITH(clip_gradient_norm(f, 1.0), Contains("grad(0)"));
  REQUIRE(std::isinf(f(0)));  // untouched

  Vector<double> ok(2);
  ok << 1, 1;
  REQUIRE_THROWS_AS(clip_gradient_norm(ok, 0.0), std::invalid_argument);
  REQUIRE_THROWS_WITH(clip_gradient_norm(ok, -1.0), Contains("ratiomatch::clip_gradient_norm") && Contains("max_norm"));
  REQUIRE_THROWS_AS(clip_gradient_norm(ok, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
}

TEMPLATE_TEST_CASE("check_state accepts exactly the states restore_state accepts, and changes nothing",
                   "[optim][checkpoint]", Adam<double>, Sgd<double>) {
  TestType optimizer(3);
  Vector<double> theta = theta0();
  optimizer.step(theta, fixed_gradients()[0]);
  const auto saved = optimizer.state_buffers();
  const Index steps = optimizer.step_count();
  const Vector<double> good = Vector<double>::Constant(3, 0.5), short_buffer = Vector<double>::Constant(2, 0.5);
  Vector<double> bad = good;
  bad(1) = std::numeric_limits<double>::quiet_NaN();
  const std::vector<std::pair<Index, std::vector<Vector<double>>>> states = {
      {7, std::vector<Vector<double>>(saved.size(), good)},
      {-1, std::vector<Vector<double>>(saved.size(), good)},
      {7, std::vector<Vector<double>>(saved.size(), short_buffer)},
      {7, std::vector<Vector<double>>(saved.size(), bad)},
      {7, std::vector<Vector<double>>(saved.size() + 1, good)},
      {7, {}},
  };
  for (const auto& [count, buffers] : states) {
    bool check_threw = false, restore_threw = false;
    try {
      optimizer.check_state(count, buffers);
    } catch (const std::invalid_argument&) {
      check_threw = true;
    }
    CHECK(optimizer.step_count() == steps);  // check_state never changes anything
    CHECK(optimizer.state_buffers() == saved);
    TestType other(3);
    try {
      other.restore_state(count, buffers);
    } catch (const std::invalid_argument&) {
      restore_threw = true;
    }
    CHECK(check_threw == restore_threw);
  }
}
