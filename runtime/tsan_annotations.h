// Happens-before annotations for ThreadSanitizer builds; no-ops otherwise.
//
// oneTBB's shared library is not built with TSan, so the synchronisation
// inside it (spawning a task, a flow-graph edge, the join of a
// parallel_for, wait_for_all) is invisible to TSan, which then reports
// every hand-off of data between a task and the code that started it as a
// race. The executor and TbbRunner mark those hand-offs themselves, edge by
// edge (never one global token, which would hide real races between
// independent branches): TSR_TSAN_RELEASE(x) on one side happens-before a
// later TSR_TSAN_ACQUIRE(x) on the other.
#ifndef TESSERA_RUNTIME_TSAN_ANNOTATIONS_H_
#define TESSERA_RUNTIME_TSAN_ANNOTATIONS_H_

#if defined(__SANITIZE_THREAD__)
#define TSR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSR_TSAN 1
#endif
#endif

#if defined(TSR_TSAN)
#include <sanitizer/tsan_interface.h>
#define TSR_TSAN_RELEASE(addr) __tsan_release(const_cast<void*>(static_cast<const void*>(addr)))
#define TSR_TSAN_ACQUIRE(addr) __tsan_acquire(const_cast<void*>(static_cast<const void*>(addr)))
#else
#define TSR_TSAN_RELEASE(addr) static_cast<void>(addr)
#define TSR_TSAN_ACQUIRE(addr) static_cast<void>(addr)
#endif

#endif  // TESSERA_RUNTIME_TSAN_ANNOTATIONS_H_
