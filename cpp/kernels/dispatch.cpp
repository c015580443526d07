// Run-time dispatch: the instruction set of the CPU (detected once), the cores a call may use,
// and choose_backend, the one place that decides which kernel runs a call's products.
#include <algorithm>
#include <atomic>
#include <deeplinear/execution.hpp>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "blas.hpp"
#include "tables.hpp"
#include "tuning.hpp"

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#ifndef DEEPLINEAR_BUILD_FLAGS
#define DEEPLINEAR_BUILD_FLAGS "unknown"
#endif

namespace deeplinear {

namespace {

// The instruction sets this build compiled kernels for.
bool compiled(Isa isa) {
    switch (isa) {
        case Isa::generic: return true;
        case Isa::avx2:
#ifdef DEEPLINEAR_KERNELS_AVX2
            return true;
#else
            return false;
#endif
        case Isa::avx512:
#ifdef DEEPLINEAR_KERNELS_AVX512
            return true;
#else
            return false;
#endif
    }
    return false;
}

// What the CPU (and the operating system, which must save the wider registers) supports.
bool cpu_supports(Isa isa) {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    switch (isa) {
        case Isa::generic: return true;
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return false;
#else
    return isa == Isa::generic;
#endif
}

Isa detect_best_isa() {
    for (Isa isa : {Isa::avx512, Isa::avx2}) {
        if (isa_available(isa)) return isa;
    }
    return Isa::generic;
}

// AMD's family 19h with AVX-512 is Zen 4, whose 512-bit operations run as two 256-bit halves
// (Zen 3, the same family, has no AVX-512; Zen 5, family 1Ah, has 512-bit units on its desktop
// and server parts, and its mobile parts, which halve them, count as whole: not measured). Every
// other CPU with AVX-512 counts as whole.
VectorCore detect_vector_core() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    if (!cpu_supports(Isa::avx512)) return VectorCore::whole;
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return VectorCore::whole;
    const bool amd = ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u;  // "AuthenticAMD"
    if (!amd || __get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return VectorCore::whole;
    const unsigned base = (eax >> 8) & 0xfu;
    const unsigned family = base == 0xfu ? base + ((eax >> 20) & 0xffu) : base;
    return family == 0x19u ? VectorCore::halves : VectorCore::whole;
#else
    return VectorCore::whole;
#endif
}

template <class Enum, std::size_t count>
Enum parse(const std::string& text, const Enum (&values)[count], const char* what) {
    for (Enum value : values) {
        if (text == name(value)) return value;
    }
    throw std::invalid_argument(std::string("unknown ") + what + " '" + text + "'");
}

}  // namespace

bool isa_available(Isa isa) { return compiled(isa) && cpu_supports(isa); }

Isa best_isa() {
    static const Isa best = detect_best_isa();
    return best;
}

VectorCore vector_core() {
    static const VectorCore core = detect_vector_core();
    return core;
}

namespace {

// GNU OpenMP's thread pool does not survive fork(): in a child of a process that ran a parallel
// region, the child's first parallel region with more than one thread waits for ever (a process
// pool of Python's "fork" start method hung so). So a process that makes a context of several
// threads notes it, and its forked children run every call on one thread (the thread count
// never changes a result).
std::atomic<bool> threads_used{false};
std::atomic<bool> forked_after_threads_{false};

void note_fork_in_child() {
    if (threads_used.load(std::memory_order_relaxed)) forked_after_threads_.store(true, std::memory_order_relaxed);
}

void note_threads_used() {
#if defined(__unix__) || defined(__APPLE__)
    static std::once_flag registered;
    std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, note_fork_in_child); });
#endif
    threads_used.store(true, std::memory_order_relaxed);
}

}  // namespace

bool forked_after_threads() { return forked_after_threads_.load(std::memory_order_relaxed); }

int available_cores() {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(CPU_COUNT(&set), 1);
#endif
    return std::max(static_cast<int>(std::thread::hardware_concurrency()), 1);
}

ExecutionContext ExecutionContext::make(int threads, const std::string& isa, const std::string& backend,
                                        const std::string& split) {
    ExecutionContext context;
    // One thread asks nothing of the system: sched_getaffinity took 0.33 µs a call on the Zen 4
    // machine, a third of the compiled part of dl.gradient at d = 4, L = 8 (the per-call group of
    // benchmarks/test_bench_batch.py times such calls).
    context.threads = threads <= 1 ? 1 : std::min(threads, forked_after_threads() ? 1 : available_cores());
    if (context.threads > 1) note_threads_used();
    if (isa == "auto") {
        context.isa = best_isa();
    } else {
        context.isa = parse(isa, {Isa::generic, Isa::avx2, Isa::avx512}, "instruction set");
        if (!isa_available(context.isa)) {
            throw std::invalid_argument(std::string("the instruction set '") + isa +
                                        "' is not available (this build: " + (compiled(context.isa) ? "yes" : "no") +
                                        ", this CPU: " + (cpu_supports(context.isa) ? "yes" : "no") + ")");
        }
    }
    if (backend != "auto") {
        context.backend_forced = true;
        context.backend = parse(backend, {Backend::fixed, Backend::small, Backend::packed, Backend::blas}, "back end");
        if (context.backend == Backend::blas && !blas::available()) {
            throw std::invalid_argument("the back end 'blas' is not available: this build has no BLAS");
        }
    }
    context.split = parse(split, {SplitPolicy::timed, SplitPolicy::always, SplitPolicy::never}, "split policy");
    return context;
}

Backend choose_backend(const ExecutionContext& context, Index n, Dtype dtype, bool whole_steps) {
    using namespace tuning;
    if (context.backend_forced) {
        if (context.backend == Backend::fixed && !(whole_steps && n <= kFixedMax)) return Backend::small;
        return context.backend;
    }
    if (whole_steps && n <= kFixedMax) return Backend::fixed;
    const Switches& switches = context.isa == Isa::avx512 ? kAvx512Switches
                               : context.isa == Isa::avx2 ? kAvx2Switches
                                                          : kGenericSwitches;
    if (n <= (dtype == Dtype::float64 ? switches.small_max : switches.small_max_float32)) return Backend::small;
    if (dtype == Dtype::float64 && n <= switches.packed_max) return Backend::packed;
    return blas::available() ? Backend::blas : Backend::packed;
}

bool splits_rows(const ExecutionContext& context, Index n, Backend backend) {
    if (context.threads < 2) return false;
    return backend == Backend::packed || (backend == Backend::small && n >= tuning::kSmallSplitMin);
}

namespace kernels {

template <>
const Table<double>& table<double>(Isa isa) {
    switch (isa) {
#ifdef DEEPLINEAR_KERNELS_AVX512
        case Isa::avx512: return kAvx512Double;
#endif
#ifdef DEEPLINEAR_KERNELS_AVX2
        case Isa::avx2: return kAvx2Double;
#endif
        default: return kGenericDouble;
    }
}

template <>
const Table<float>& table<float>(Isa isa) {
    switch (isa) {
#ifdef DEEPLINEAR_KERNELS_AVX512
        case Isa::avx512: return kAvx512Float;
#endif
#ifdef DEEPLINEAR_KERNELS_AVX2
        case Isa::avx2: return kAvx2Float;
#endif
        default: return kGenericFloat;
    }
}

}  // namespace kernels

const char* name(Isa isa) {
    switch (isa) {
        case Isa::generic: return "generic";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "unknown";
}

const char* name(Backend backend) {
    switch (backend) {
        case Backend::fixed: return "fixed";
        case Backend::small: return "small";
        case Backend::packed: return "packed";
        case Backend::blas: return "blas";
    }
    return "unknown";
}

const char* name(SplitPolicy policy) {
    switch (policy) {
        case SplitPolicy::timed: return "timed";
        case SplitPolicy::always: return "always";
        case SplitPolicy::never: return "never";
    }
    return "unknown";
}

const char* name(LanePolicy policy) {
    switch (policy) {
        case LanePolicy::automatic: return "auto";
        case LanePolicy::always: return "always";
        case LanePolicy::never: return "never";
    }
    return "unknown";
}

LanePolicy parse_lane_policy(const std::string& text) {
    return parse(text, {LanePolicy::automatic, LanePolicy::always, LanePolicy::never}, "lanes policy");
}

const char* name(VectorCore core) { return core == VectorCore::halves ? "halves" : "whole"; }

VectorCore parse_vector_core(const std::string& text) {
    if (text == "auto") return vector_core();
    return parse(text, {VectorCore::whole, VectorCore::halves}, "vector core");
}

std::string build_info() {
    std::string isas, cpu;
    for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
        if (compiled(isa)) isas += std::string(isas.empty() ? "" : " ") + name(isa);
        if (cpu_supports(isa)) cpu += std::string(cpu.empty() ? "" : " ") + name(isa);
    }
    std::string info;
#if defined(__clang__)
    info += "compiler: clang " __clang_version__ "\n";
#elif defined(__GNUC__)
    info += "compiler: gcc " __VERSION__ "\n";
#endif
    info += "flags: " DEEPLINEAR_BUILD_FLAGS "\n";
#ifdef DEEPLINEAR_NATIVE
    info += "native: yes\n";
#else
    info += "native: no\n";
#endif
    info += "kernels: " + isas + "\n";
    info += "cpu: " + cpu + "\n";
    info += std::string("best: ") + name(best_isa()) + "\n";
    info += std::string("vector_core: ") + name(vector_core()) + "\n";
#ifdef DEEPLINEAR_OPENMP
    info += "openmp: yes\n";
#else
    info += "openmp: no\n";
#endif
    info += std::string("blas: ") + (blas::available() ? "yes" : "no") + "\n";
    return info;
}

}  // namespace deeplinear
