#pragma once
/// @file
/// @brief Umbrella header: everything in ratiomatch.

#include "ratiomatch/core/checks.hpp"
#include "ratiomatch/core/concepts.hpp"
#include "ratiomatch/core/errors.hpp"
#include "ratiomatch/core/finite_difference.hpp"
#include "ratiomatch/core/random.hpp"
#include "ratiomatch/core/required_only.hpp"
#include "ratiomatch/core/types.hpp"
#include "ratiomatch/core/version.hpp"
#include "ratiomatch/models/activation.hpp"
#include "ratiomatch/models/ising_model.hpp"
#include "ratiomatch/models/mlp_energy.hpp"
#include "ratiomatch/estimators/gradient_guided_rm.hpp"
#include "ratiomatch/estimators/proposal.hpp"
#include "ratiomatch/estimators/ratio_matching.hpp"
#include "ratiomatch/estimators/ratio_objective.hpp"
#include "ratiomatch/estimators/uniform_sampled_rm.hpp"
