// Quick start: build an MLP energy over 16 bits, then look at the energies, input
// gradients and single-bit flip deltas of a few random binary vectors.
#include <ratiomatch/ratiomatch.hpp>

#include <iomanip>
#include <iostream>
#include <random>

int main() {
  using namespace ratiomatch;
  constexpr Index d = 16;

  // E: 16 → 64 → 64 → 1 with Swish activations, initialised like torch.nn.Linear.
  MlpEnergy<double> model(d, {64, 64}, Activation::Swish);
  std::mt19937_64 rng(2026);
  model.initialize(rng);

  // A batch is one binary vector per row.
  Matrix<double> X(4, d);
  for (Index r = 0; r < X.rows(); ++r)
    for (Index i = 0; i < d; ++i) X(r, i) = uniform_open01(rng) < 0.5 ? 0.0 : 1.0;

  Vector<double> energy;
  Matrix<double> grad_x, deltas;
  model.energy(X, energy);        // E(x) per row
  model.input_gradient(X, grad_x);  // ∂E/∂x per row
  flip_deltas(model, X, deltas);   // E(x with bit i flipped) − E(x)

  std::cout << std::fixed << std::setprecision(4);
  for (Index r = 0; r < X.rows(); ++r) {
    std::cout << "x = ";
    for (Index i = 0; i < d; ++i) std::cout << static_cast<int>(X(r, i));
    std::cout << "   E(x) = " << energy(r) << "\n  dE/dx      = " << grad_x.row(r)
              << "\n  flip delta = " << deltas.row(r) << "\n";
  }

  // The flip most likely under p(x) ∝ exp(−E(x)) lowers the energy the most.
  Index best_row = 0, best_bit = 0;
  const double lowest = deltas.minCoeff(&best_row, &best_bit);
  std::cout << "largest energy drop: row " << best_row << ", bit " << best_bit << " (ΔE = " << lowest
            << ", probability ratio " << std::exp(-lowest) << ")\n";

  // The hand-written gradients agree with central finite differences.
  const auto check = check_input_gradient(model, X);
  std::cout << "input gradient vs finite differences: relative error " << std::scientific << check.relative_error
            << "\n";
  return check.passed(1e-6) ? 0 : 1;
}
