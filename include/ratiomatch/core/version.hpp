#pragma once
/// @file
/// @brief Library version.

#define RATIOMATCH_VERSION_MAJOR 0
#define RATIOMATCH_VERSION_MINOR 1
#define RATIOMATCH_VERSION_PATCH 0
