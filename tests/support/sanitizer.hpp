#pragma once
// Which sanitizer this test binary was built with, for the few tests whose subject a
// sanitizer changes: ThreadSanitizer turns mlockall into a no-op, and both ASan and TSan
// fault in shadow memory on first touch and keep freed blocks in quarantine, so page
// fault counts measure the sanitizer, not the code. The release build checks those.
#if defined(__SANITIZE_THREAD__)
#define RT_TEST_SANITIZER "ThreadSanitizer"
#define RT_TEST_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define RT_TEST_SANITIZER "AddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_TEST_SANITIZER "ThreadSanitizer"
#define RT_TEST_TSAN 1
#elif __has_feature(address_sanitizer)
#define RT_TEST_SANITIZER "AddressSanitizer"
#endif
#endif

// RealtimeSanitizer (the rtsan preset): tests that prove it is live, and the allocation
// test, which leaves the allocator to it.
#if defined(__has_feature)
#if __has_feature(realtime_sanitizer)
#define RT_TEST_RTSAN 1
#endif
#endif

namespace testing_support {
#ifdef RT_TEST_SANITIZER
inline constexpr const char* kShadowSanitizer = RT_TEST_SANITIZER;
#else
inline constexpr const char* kShadowSanitizer = nullptr;
#endif

// ThreadSanitizer's runtime takes locks of its own: a lock per atomic (it blocks), and spin
// locks in its allocators that retry with sched_yield. Two SCHED_FIFO threads of different
// priorities on one CPU can then deadlock: the lower one preempted holding such a lock, the
// higher one spinning for it (sched_yield never yields to a lower priority) or spinning for
// a third thread that waits for it. Tests of such a shape skip it under TSan when SCHED_FIFO
// is granted.
#ifdef RT_TEST_TSAN
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
}  // namespace testing_support
