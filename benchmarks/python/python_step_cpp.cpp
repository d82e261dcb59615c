// One training step (loss_and_gradient, clipping, Adam) timed in C++: the reference for the
// Python loop of benchmarks/python/overhead.py, which runs the same step on the same data.
// Usage: python_step_cpp mlp|ising steps repeats   (prints the median milliseconds per step)
#include <ratiomatch/ratiomatch.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace ratiomatch;

template <class Model, class Estimator>
double median_ms_per_step(Model& model, const Estimator& estimator, const Matrix<float>& X, int steps, int repeats) {
  std::mt19937_64 rng(1);
  Adam<float> adam(model.num_params(), {.lr = 5e-4, .weight_decay = 1e-4});
  Vector<float> grad;
  auto step = [&] {
    estimator.loss_and_gradient(model, X, rng, grad);
    clip_gradient_norm<float>(grad, 1.0);
    auto params = model.params();
    adam.step(params, grad);
  };
  for (int k = 0; k < steps / 5 + 1; ++k) step();  // warm-up
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const auto begin = std::chrono::steady_clock::now();
    for (int k = 0; k < steps; ++k) step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count() / steps);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: python_step_cpp mlp|ising steps repeats\n";
    return 2;
  }
  const std::string which = argv[1];
  const int steps = std::stoi(argv[2]), repeats = std::stoi(argv[3]);
  // The data: 128 rows of 32 bits, bit (r, i) = 1 when (r * 7 + i * 3) % 5 < 2 (the Python side makes the same).
  Matrix<float> X(128, 32);
  for (Index r = 0; r < 128; ++r)
    for (Index i = 0; i < 32; ++i) X(r, i) = (r * 7 + i * 3) % 5 < 2 ? 1.0f : 0.0f;
  std::mt19937_64 init(3);
  if (which == "mlp") {
    MlpEnergy<float> model(32, {256, 256, 256}, Activation::LearnableSwish);
    model.initialize(init);
    std::cout << median_ms_per_step(model, GradientGuidedRM(10, GuidedVariant::Advanced), X, steps, repeats) << "\n";
  } else if (which == "ising") {
    IsingModel<float> model(32);
    std::cout << median_ms_per_step(model, RatioMatching<HyvarinenRatio>(), X, steps, repeats) << "\n";
  } else {
    std::cerr << "unknown model " << which << "\n";
    return 2;
  }
  return 0;
}
