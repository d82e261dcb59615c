// An outside project that asks for the optional component mpi and trains a step data-parallel.
#include <ratiomatch/distributed/mpi.hpp>
#include <ratiomatch/ratiomatch.hpp>

#include <cmath>
#include <iostream>
#include <random>

int main(int argc, char** argv) {
  ratiomatch::mpi::Session session(argc, argv);
  ratiomatch::IsingModel<double> model(4);
  const ratiomatch::RatioMatching<> estimator;
  const ratiomatch::mpi::DataParallel parallel(estimator);
  ratiomatch::Matrix<double> X(2, 4);
  X << 0, 1, 0, 1,
       1, 1, 1, 0;
  std::mt19937_64 rng(1);
  ratiomatch::Vector<double> g;
  const double loss = parallel.loss_and_gradient(model, X, rng, g);
  std::cout << "mpi consumer: rank " << session.rank() << " of " << session.size() << ", loss " << loss << "\n";
  return std::isfinite(loss) ? 0 : 1;
}
