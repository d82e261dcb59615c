// An outside project that finds the installed ratiomatch package and uses it.
#include <ratiomatch/ratiomatch.hpp>

#include <cmath>
#include <iostream>
#include <random>

int main() {
  static_assert(ratiomatch::EnergyModel<ratiomatch::MlpEnergy<float>>);
  ratiomatch::MlpEnergy<float> model(6, {8, 8});
  std::mt19937_64 rng(1);
  model.initialize(rng);
  ratiomatch::Matrix<float> X(2, 6);
  X << 0, 1, 0, 1, 1, 0,
       1, 1, 1, 0, 0, 0;
  ratiomatch::Vector<float> e;
  model.energy(X, e);
  std::cout << "consumer: E = " << e.transpose() << "\n";
  return e.allFinite() ? 0 : 1;
}
