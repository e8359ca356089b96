// Annotations for Clang's thread-safety analysis (-Wthread-safety): they say
// which lock guards which member and which locks a function needs, takes or
// gives back, so that a missed lock is a compile error instead of a comment.
//
// With Clang each macro expands to the attribute of the same meaning; with
// any other compiler it expands to nothing (GCC builds the same code without
// the checks). The Clang build of scripts/test.sh (the fuzz flavour, which
// compiles every production library) turns the analysis on and makes its
// warnings errors; see the top-level CMakeLists.txt.
//
// How to use them (common/mutex.h has the lock types they refer to):
//   - A member read or written only under a lock: `int x_ GUARDED_BY(mu_);`.
//     A pointer whose pointee is guarded: `T* p_ PT_GUARDED_BY(mu_);`.
//   - A function that a caller must call with a lock held:
//     `void Grow() REQUIRES(mu_);` (REQUIRES_SHARED for a reader lock).
//   - A function that takes the lock itself, and so must not be called with
//     it held: `void Publish() EXCLUDES(mu_);`.
//   - Lock types: CAPABILITY on the class; ACQUIRE / RELEASE (and the _SHARED
//     forms, and TRY_ACQUIRE) on the methods that take and give back;
//     SCOPED_CAPABILITY on a guard that holds a lock for its own lifetime.
//   - NO_THREAD_SAFETY_ANALYSIS turns the checks off for one function. Use it
//     only where a lock is held across objects or functions in a way the
//     analysis cannot follow, and say why beside it.
//
// Thread safety: macros only; no state.
#ifndef PORTCULLIS_COMMON_THREAD_ANNOTATIONS_H_
#define PORTCULLIS_COMMON_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define PORTCULLIS_THREAD_ATTRIBUTE(x) __attribute__((x))
#else
#define PORTCULLIS_THREAD_ATTRIBUTE(x)  // only Clang checks these
#endif

// On a class: its objects are locks ("capabilities"); `x` names the kind in
// diagnostics, e.g. "mutex".
#define CAPABILITY(x) PORTCULLIS_THREAD_ATTRIBUTE(capability(x))

// On a class: an object that holds a lock from its construction to its
// destruction (a scoped guard).
#define SCOPED_CAPABILITY PORTCULLIS_THREAD_ATTRIBUTE(scoped_lockable)

// On a member: read only with `x` held (shared or exclusive), written only
// with `x` held exclusively.
#define GUARDED_BY(x) PORTCULLIS_THREAD_ATTRIBUTE(guarded_by(x))

// On a pointer member: the object it points to is guarded by `x` (the
// pointer itself is not).
#define PT_GUARDED_BY(x) PORTCULLIS_THREAD_ATTRIBUTE(pt_guarded_by(x))

// Lock order: this lock is taken before (after) the locks listed.
#define ACQUIRED_BEFORE(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the locks exclusively (REQUIRES) or at
// least shared (REQUIRES_SHARED), and still holds them after the call.
#define REQUIRES(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(requires_shared_capability(__VA_ARGS__))

// On a function: it takes the locks (exclusively or shared) and returns with
// them held. Without arguments on a method of a lock type: it takes `this`.
#define ACQUIRE(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(acquire_shared_capability(__VA_ARGS__))

// On a function: the caller holds the locks (exclusively or shared) and the
// function gives them back.
#define RELEASE(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(release_shared_capability(__VA_ARGS__))

// On a function that may fail to take the locks: it holds them afterwards
// exactly when it returned the first argument (true or false).
#define TRY_ACQUIRE(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) \
  PORTCULLIS_THREAD_ATTRIBUTE(try_acquire_shared_capability(__VA_ARGS__))

// On a function: the caller must not hold the locks (the function takes
// them itself; a caller holding one would deadlock).
#define EXCLUDES(...) PORTCULLIS_THREAD_ATTRIBUTE(locks_excluded(__VA_ARGS__))

// On a function: it checks at run time (or it is otherwise known) that the
// calling thread holds the lock; the analysis takes it as held afterwards.
#define ASSERT_CAPABILITY(x) PORTCULLIS_THREAD_ATTRIBUTE(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) \
  PORTCULLIS_THREAD_ATTRIBUTE(assert_shared_capability(x))

// On a function: it returns (a pointer or reference to) the lock `x`.
#define RETURN_CAPABILITY(x) PORTCULLIS_THREAD_ATTRIBUTE(lock_returned(x))

// On a function: its body is not checked (see the note above).
#define NO_THREAD_SAFETY_ANALYSIS \
  PORTCULLIS_THREAD_ATTRIBUTE(no_thread_safety_analysis)

#endif  // PORTCULLIS_COMMON_THREAD_ANNOTATIONS_H_
