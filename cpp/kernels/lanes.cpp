// Lane groups (lanes.hpp): the interleaved layout, the per-lane stop rules and records of
// run_loop, and the lane kernels (cpp/kernels/lane_kernel.inc) for this machine.
#include <deeplinear/lanes.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernel_abi.hpp"
#include "tables.hpp"
#include "tuning.hpp"

namespace deeplinear {

namespace {

using kernels::Size;

// Aligned storage for a group's interleaved matrices.
template <class T>
struct Buffer {
    std::vector<T> storage;
    T* data = nullptr;
    void resize(std::size_t count) {
        storage.assign(count + 64 / sizeof(T), T(0));
        data = storage.data() + (-reinterpret_cast<std::uintptr_t>(storage.data()) / sizeof(T)) % (64 / sizeof(T));
    }
};

}  // namespace

template <class T>
int lane_width(const ExecutionContext& context, Index n) {
    const kernels::Table<T>& table = kernels::table<T>(context.isa);
    if (table.lane_width < 2 || n < 1 || n > kLaneMaxDim)
        return static_cast<int>(table.lane_width < 2 ? 1 : table.lane_width);
    return static_cast<int>(table.lanes[table.lanes[n].forward != nullptr ? n : 0].width);
}

template <class T>
void run_lane_group(const ExecutionContext& context, Trainer<T>* const* networks, const T* const* phis,
                    const MethodParams<T>* params, std::size_t count, Index depth, Index n,
                    const std::int64_t* max_steps, const double* tol, bool record_final, const Interrupt& interrupted,
                    LoopResult* results) {
    const kernels::Table<T>& table = kernels::table<T>(context.isa);
    if (n < 1 || n > kLaneMaxDim) throw std::invalid_argument("a lane group holds networks of d <= 16");
    const kernels::LaneStep<T> kernel = table.lanes[table.lanes[n].forward != nullptr ? n : 0];
    const int W = static_cast<int>(kernel.width);
    if (count > static_cast<std::size_t>(W)) {
        throw std::invalid_argument("a lane group holds up to lane_width networks");
    }
    const Size size = n * n, stack = depth * size;
    Buffer<T> current, next, phi, prefix, residual, work, losses, rates;
    current.resize(static_cast<std::size_t>(stack * W));
    next.resize(static_cast<std::size_t>(stack * W));
    phi.resize(static_cast<std::size_t>(size * W));
    prefix.resize(static_cast<std::size_t>(std::max<Size>(depth - 1, 1) * size * W));
    residual.resize(static_cast<std::size_t>(size * W));
    work.resize(static_cast<std::size_t>(2 * size * W));
    losses.resize(W);
    rates.resize(3 * W);
    const bool penalty = params[0].method == Method::penalty;

    struct Lane {
        LoopOptions options;
        RecordGrid grid;
        std::size_t before = 0;
        LoopResult result;
        double previous_loss = 0.0;
        bool previous_recorded = false;
        bool active = false;
    };
    std::vector<Lane> lanes(static_cast<std::size_t>(W));
    std::size_t begun = 0;
    // Into the interleaved layout; lanes without a network (or once stopped) hold zeros, which
    // stay zeros (no NaN, no subnormals) with η = 0.
    auto clear = [&](int l) {
        for (Size e = 0; e < stack; ++e) current.data[e * W + l] = next.data[e * W + l] = T(0);
        for (Size e = 0; e < size; ++e) phi.data[e * W + l] = T(0);
        rates.data[l] = T(0);
        rates.data[W + l] = T(1);
        rates.data[2 * W + l] = T(0);
    };
    auto store_out = [&](int l, const T* source) {
        T* layers = networks[l]->state();
        for (Size e = 0; e < stack; ++e) layers[e] = source[e * W + l];
    };
    auto record = [&](int l, std::int64_t step, double loss) {
        History& history = networks[l]->records();
        history.losses.push_back(loss);
        history.steps.push_back(step);
        ++lanes[l].result.recorded;
    };
    try {
        for (int l = 0; l < W; ++l) clear(l);
        for (std::size_t j = 0; j < count; ++j) {
            const int l = static_cast<int>(j);
            lanes[l].options = networks[j]->begin(max_steps[j], tol[j], record_final, true);
            lanes[l].grid = RecordGrid(lanes[l].options);
            lanes[l].before = networks[j]->records().size();
            lanes[l].active = true;
            ++begun;
            const T* layers = networks[j]->state();
            for (Size e = 0; e < stack; ++e) current.data[e * W + l] = layers[e];
            for (Size e = 0; e < size; ++e) phi.data[e * W + l] = phis[j][e];
            const T lr = params[j].lr;
            rates.data[l] = lr;
            rates.data[W + l] = T(1) - lr * params[j].kappa;  // as DenseStepper forms them
            rates.data[2 * W + l] = lr * params[j].kappa;
        }
        InterruptPoll poll;
        for (std::int64_t t = 0;; ++t) {
            kernel.forward(current.data, depth, n, phi.data, prefix.data, residual.data, losses.data);
            bool polled = false, stop_all = false;
            bool any = false;
            for (int l = 0; l < static_cast<int>(count); ++l) {
                Lane& lane = lanes[l];
                if (!lane.active) continue;
                const LoopOptions& options = lane.options;
                LoopResult& result = lane.result;
                double loss = static_cast<double>(losses.data[l]);
                if (t == 0 && std::isnan(loss)) {  // the caller's layers
                    loss = static_cast<double>(overflowed_loss(losses.data[l], networks[l]->state(), stack));
                }
                const std::int64_t step = options.first_step + t;
                const bool fresh = t > 0 || options.record_first;
                bool stop = true;
                const T* final_state = current.data;
                if (!std::isfinite(loss)) {
                    result.status = Status::diverged;
                    if (t == 0) {
                        result.loss = loss;
                        if (fresh) record(l, step, loss);
                    } else {
                        final_state = next.data;  // the previous state: the loop's revert()
                        result.steps = t - 1;
                        result.loss = lane.previous_loss;
                        if (!lane.previous_recorded && (t > 1 || options.record_first)) {
                            record(l, step - 1, lane.previous_loss);
                        }
                    }
                } else {
                    const bool on_grid = lane.grid.on(step) && fresh;
                    if (on_grid) record(l, step, loss);
                    result.steps = t;
                    result.loss = loss;
                    if (loss > options.divergence_threshold) {
                        result.status = Status::diverged;
                    } else if (loss <= options.tol) {
                        result.status = Status::converged;
                    } else if (t == options.max_steps) {
                        result.status = Status::max_steps;
                    } else {
                        if (!polled) {
                            stop_all = poll(interrupted);
                            polled = true;
                        }
                        if (stop_all) {
                            result.status = Status::interrupted;
                        } else {
                            stop = false;
                        }
                    }
                    if (stop && fresh && !on_grid && (options.record_final || result.status != Status::max_steps)) {
                        record(l, step, loss);
                    }
                    lane.previous_loss = loss;
                    lane.previous_recorded = on_grid;
                }
                if (stop) {
                    store_out(l, final_state);
                    clear(l);
                    lane.active = false;
                    networks[l]->end(result, lane.before);
                    results[l] = result;
                } else {
                    any = true;
                }
            }
            if (!any) break;
            kernel.backward(current.data, depth, n, prefix.data, residual.data, rates.data, penalty, next.data,
                            work.data);
            std::swap(current, next);
        }
    } catch (...) {
        // Settle every network begun: each keeps its last completed state.
        for (std::size_t j = 0; j < begun; ++j) {
            Lane& lane = lanes[j];
            if (!lane.active) continue;
            store_out(static_cast<int>(j), current.data);
            networks[j]->end(lane.result, lane.before);
            results[j] = lane.result;
        }
        throw;
    }
}

template <class T>
bool lanes_by_default(const ExecutionContext& context, Index n, VectorCore core) {
    const kernels::Table<T>& table = kernels::table<T>(context.isa);
    const unsigned dims = core == VectorCore::halves ? table.lane_dims_halves : table.lane_dims;
    return table.lane_width >= 2 && n >= 1 && n <= kLaneMaxDim && ((dims >> n) & 1u) != 0;
}

template bool lanes_by_default<double>(const ExecutionContext&, Index, VectorCore);
template bool lanes_by_default<float>(const ExecutionContext&, Index, VectorCore);
template int lane_width<double>(const ExecutionContext&, Index);
template int lane_width<float>(const ExecutionContext&, Index);
template void run_lane_group<double>(const ExecutionContext&, Trainer<double>* const*, const double* const*,
                                     const MethodParams<double>*, std::size_t, Index, Index, const std::int64_t*,
                                     const double*, bool, const Interrupt&, LoopResult*);
template void run_lane_group<float>(const ExecutionContext&, Trainer<float>* const*, const float* const*,
                                    const MethodParams<float>*, std::size_t, Index, Index, const std::int64_t*,
                                    const double*, bool, const Interrupt&, LoopResult*);

}  // namespace deeplinear
