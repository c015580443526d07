// Batches of small networks with the network index across the SIMD lanes (batch.hpp): groups of
// `width` networks of one shape stepped by gd or penalty in lockstep, each lane following the
// stop rules, records and arithmetic of its own run (run_loop, the arithmetic contract), so that
// every network's result is bit for bit its run alone. Defined in cpp/kernels/lanes.cpp, on the
// lane kernels (cpp/kernels/lane_kernel.inc) of the call's instruction set.
#pragma once

#include "execution.hpp"
#include "methods.hpp"
#include "trainer.hpp"

#include <cstddef>
#include <cstdint>

namespace deeplinear {

// The largest d that the lane kernels handle.
inline constexpr Index kLaneMaxDim = 16;

// Whether a batch of n × n networks uses lane groups unless told otherwise (LanePolicy::automatic)
// with the context's kernels: where they were measured faster than each network's own kernel
// (the sizes, per instruction set and type, are in cpp/kernels/tuning.hpp with the other kernel
// switch sizes; they differ where the CPU runs 512-bit operations in two halves: `core`, by
// default this CPU's).
template <class T>
bool lanes_by_default(const ExecutionContext& context, Index n, VectorCore core = vector_core());

// The networks per lane group of n × n networks for T with the context's kernels (1: no vectors
// to share): the vector width, or twice it for the smallest n (pairs of vectors).
template <class T>
int lane_width(const ExecutionContext& context, Index n);

// One group: networks[0 .. count) (count <= lane_width<T>(context, n)), all gd or all penalty
// (params[j] for networks[j]), of `depth` layers of n × n, towards phis[j]. Each network j runs as
// Trainer::run(max_steps[j], tol[j], record_final) would: its state, history and step count are
// settled when the call returns or throws. `interrupted` is polled as run_loop polls it. The
// caller has checked every network (Trainer::check) in this call: their states are not read
// again before the steps.
template <class T>
void run_lane_group(const ExecutionContext& context, Trainer<T>* const* networks, const T* const* phis,
                    const MethodParams<T>* params, std::size_t count, Index depth, Index n,
                    const std::int64_t* max_steps, const double* tol, bool record_final, const Interrupt& interrupted,
                    LoopResult* results);

}  // namespace deeplinear
