#pragma once
/// @file
/// @brief `DenormalFlush`: subnormal floating-point numbers read and written as zero while it lives.

#if defined(__SSE__) || defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define RATIOMATCH_HAS_MXCSR 1
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace ratiomatch {

/// @brief Sets flush-to-zero and denormals-are-zero (the x86 MXCSR bits FTZ and DAZ) on the calling
/// thread and on the threads of an OpenMP team, and restores each thread's previous state when it
/// goes out of scope.
///
/// Why: a trained network can drive some float32 quantities (backpropagated deltas, Adam's second
/// moments) below 1.2e-38, where every arithmetic operation takes a microcode assist about a hundred
/// times slower than a normal one. A 100,000-update checkerboard run (MLP energy, gradient-guided
/// ratio matching) slowed from 77 to 7.5 updates per second from 30,000 updates on; resumed from
/// the same checkpoint with the flush it ran at 78. The values lost are below 1.2e-38 (float) or
/// 2.2e-308 (double): relative to any loss or parameter they are rounding noise. PyTorch offers the
/// same switch (`torch.set_flush_denormal`).
///
/// Scopes do not nest (an inner one would record the outer one's state as the workers' own). On
/// processors without MXCSR (not x86) it does nothing and `supported()` is false.
class DenormalFlush {
 public:
  /// @param enable set the bits (false: leave everything as it is)
  explicit DenormalFlush(bool enable = true) : enabled_(enable) {
#ifdef RATIOMATCH_HAS_MXCSR
    if (!enabled_) return;
#ifdef _OPENMP
    // Worker threads keep their own MXCSR; each saves and sets its own (a team of the size the
    // next parallel loop will use). Before the calling thread's: a worker started by this region
    // inherits the caller's state, which must still be the one to restore.
#pragma omp parallel
    {
      if (omp_get_thread_num() != 0) {
        worker_state() = _mm_getcsr();
        _mm_setcsr(worker_state() | bits);
      }
    }
#endif
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | bits);
#endif
  }

  ~DenormalFlush() {
#ifdef RATIOMATCH_HAS_MXCSR
    if (!enabled_) return;
#ifdef _OPENMP
#pragma omp parallel
    {
      if (omp_get_thread_num() != 0) _mm_setcsr(worker_state());
    }
#endif
    _mm_setcsr(saved_);
#endif
  }

  DenormalFlush(const DenormalFlush&) = delete;
  DenormalFlush& operator=(const DenormalFlush&) = delete;

  /// @brief Whether this processor has the switch (x86 with SSE).
  static constexpr bool supported() {
#ifdef RATIOMATCH_HAS_MXCSR
    return true;
#else
    return false;
#endif
  }

 private:
#ifdef RATIOMATCH_HAS_MXCSR
  static constexpr unsigned bits = 0x8040u;  // FTZ (bit 15) and DAZ (bit 6)
  // Each OpenMP worker's MXCSR before the flush.
  static unsigned& worker_state() {
    thread_local unsigned state = 0;
    return state;
  }
  unsigned saved_ = 0;
#endif
  bool enabled_;
};

}  // namespace ratiomatch
