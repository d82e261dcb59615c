#pragma once
/// @file
/// @brief Reusable scratch space for estimators and samplers, kept per type so that they need
/// not be templates over the model or the scalar type.

#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ratiomatch::detail {

/// Scratch objects of any default-constructible type, one per type, made on first use and
/// reused afterwards (a steady state allocates nothing). Scratch is not state: a copy of a
/// cache starts empty, and so does a moved-from one. Not for concurrent use.
class WorkspaceCache {
 public:
  WorkspaceCache() = default;
  WorkspaceCache(const WorkspaceCache&) {}
  WorkspaceCache& operator=(const WorkspaceCache&) { return *this; }
  WorkspaceCache(WorkspaceCache&&) noexcept {}
  WorkspaceCache& operator=(WorkspaceCache&&) noexcept { return *this; }
  ~WorkspaceCache() = default;

  /// The object of type `T`, default-constructed on the first call.
  template <class T>
  T& get() {
    static_assert(std::is_default_constructible_v<T>, "workspaces are default-constructible");
    const void* key = key_of<T>();
    for (auto& entry : entries_)
      if (entry.key == key) return *static_cast<T*>(entry.object.get());
    entries_.push_back(Entry{key, Owner(new T(), [](void* p) { delete static_cast<T*>(p); })});
    return *static_cast<T*>(entries_.back().object.get());
  }

 private:
  using Owner = std::unique_ptr<void, void (*)(void*)>;
  struct Entry {
    const void* key;
    Owner object;
  };
  // One address per type (inline templates have one instance program-wide).
  template <class T>
  static const void* key_of() {
    static const char key = 0;
    return &key;
  }
  std::vector<Entry> entries_;
};

/// State kept once per scalar type (unlike `WorkspaceCache`, copied with its owner).
template <template <class> class State>
struct PerScalar {
  State<float> single;
  State<double> twice;
  template <class S>
  State<S>& get() {
    static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "ratiomatch models use float or double");
    if constexpr (std::is_same_v<S, float>)
      return single;
    else
      return twice;
  }
};

}  // namespace ratiomatch::detail
