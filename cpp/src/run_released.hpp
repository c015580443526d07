// Running a stepper's loop from Python: buffers, the GIL, Ctrl-C. Binding glue, no math.
#pragma once

#include "bindings.hpp"

#include <deeplinear/loop.hpp>
#include <deeplinear/methods.hpp>

#include <cstring>
#include <optional>

namespace deeplinear::bindings {

inline const char* status_name(Status status) {
    switch (status) {
        case Status::converged: return "converged";
        case Status::max_steps: return "max_steps";
        case Status::diverged: return "diverged";
        case Status::interrupted: return "interrupted";
    }
    return "unknown";
}

// Runs the loop with the GIL released, polling for Ctrl-C; returns (status, steps, losses,
// loss_steps). A KeyboardInterrupt becomes status "interrupted" (the Python layer warns);
// any other exception raised by a signal handler propagates after the state is consistent.
template <class Stepper>
inline py::tuple run_released(Stepper& stepper, const LoopOptions& options, const ExecutionContext& context,
                              bool with_diagnostics) {
    const auto capacity = static_cast<py::ssize_t>(options.max_steps / options.record_every + 2);
    py::array_t<double> losses(capacity);
    py::array_t<std::int64_t> loss_steps(capacity);
    py::array_t<double> diagnostics(with_diagnostics ? capacity * kDiagnosticCount : 0);
    double* loss_data = losses.mutable_data();
    std::int64_t* step_data = loss_steps.mutable_data();
    double* diagnostic_data = with_diagnostics ? diagnostics.mutable_data() : nullptr;
    std::optional<py::error_already_set> pending;
    LoopResult result;
    {
        py::gil_scoped_release release;
        OpenMpThreads scope(context);
        result = run_loop(stepper, options, loss_data, step_data, diagnostic_data, kDiagnosticCount, [&pending] {
            py::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() == 0) return false;
            pending.emplace();  // fetches the exception raised by the signal handler
            return true;
        });
    }
    if (pending && !pending->matches(PyExc_KeyboardInterrupt)) throw *pending;
    pending.reset();
    py::array_t<double> recorded_losses(result.recorded);
    py::array_t<std::int64_t> recorded_steps(result.recorded);
    std::memcpy(recorded_losses.mutable_data(), loss_data, sizeof(double) * static_cast<std::size_t>(result.recorded));
    std::memcpy(recorded_steps.mutable_data(), step_data,
                sizeof(std::int64_t) * static_cast<std::size_t>(result.recorded));
    py::object recorded_diagnostics = py::none();
    if (with_diagnostics) {
        py::array_t<double> table({static_cast<py::ssize_t>(result.recorded), static_cast<py::ssize_t>(kDiagnosticCount)});
        std::memcpy(table.mutable_data(), diagnostic_data,
                    sizeof(double) * static_cast<std::size_t>(result.recorded * kDiagnosticCount));
        recorded_diagnostics = table;
    }
    return py::make_tuple(status_name(result.status), result.steps, recorded_losses, recorded_steps,
                          recorded_diagnostics);
}

}  // namespace deeplinear::bindings
