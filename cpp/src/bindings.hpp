// numpy ↔ Eigen conversion for the binding sources: no math here.
// The Python layer (python/deeplinear/_validation.py) converts and validates every argument;
// these functions only re-check shapes, so that a direct call into _core cannot read out of
// bounds, and take C-contiguous arrays of the exact dtype (noconvert: no hidden copies).
#pragma once

#include <deeplinear/common.hpp>
#include <deeplinear/execution.hpp>
#include <deeplinear/loop.hpp>
#include <deeplinear/threads.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>

namespace deeplinear::bindings {

namespace py = pybind11;

template <class T>
using Array = py::array_t<T, py::array::c_style>;

// ValueError unless every value is finite (the Python layer may skip its own check for arrays it
// passes through unconverted, so the scan happens once, here).
template <class T>
void check_finite(const Array<T>& array, const char* name) {
    const T* data = array.data();
    bool finite = true;
    for (py::ssize_t i = 0, n = array.size(); i < n; ++i) finite &= std::isfinite(data[i]);
    if (!finite) throw py::value_error(std::string(name) + " must contain only finite values (found NaN or inf)");
}

template <class T>
LayerStack<const T> layers_view(const Array<T>& array, const char* name) {
    if (array.ndim() != 3 || array.shape(1) != array.shape(2) || array.shape(0) < 1 || array.shape(1) < 1) {
        throw py::value_error(std::string(name) + " must have shape (L, d, d) with L, d >= 1");
    }
    check_finite(array, name);
    return {array.data(), array.shape(0), array.shape(1)};
}

template <class T>
LayerStack<T> mutable_layers_view(Array<T>& array, const char* name) {
    const auto view = layers_view<T>(array, name);
    if (!array.writeable()) throw py::value_error(std::string(name) + " must be writable");
    return {array.mutable_data(), view.depth, view.dim};
}

template <class T>
ConstMatrixMap<T> matrix_view(const Array<T>& array, const char* name, Index dim = -1) {
    if (array.ndim() != 2 || array.shape(0) != array.shape(1) || array.shape(0) < 1 ||
        (dim >= 0 && array.shape(0) != dim)) {
        throw py::value_error(std::string(name) + " must be a square (d, d) matrix matching the layers");
    }
    check_finite(array, name);
    return ConstMatrixMap<T>(array.data(), array.shape(0), array.shape(1));
}

template <class T>
Array<T> new_matrix(Index dim) {
    return Array<T>({dim, dim});
}

template <class T>
Array<T> new_layers(Index depth, Index dim) {
    return Array<T>({depth, dim, dim});
}

template <class T>
MatrixMap<T> matrix_map(Array<T>& array) {
    return MatrixMap<T>(array.mutable_data(), array.shape(0), array.shape(1));
}

template <class T>
LayerStack<T> layers_map(Array<T>& array) {
    return {array.mutable_data(), array.shape(0), array.shape(1)};
}

// Records [start, end) of a run's history as (losses, loss_steps, diagnostics (records ×
// columns) or None): the layout of deeplinear's TrainResult.
inline py::tuple history_tuple(const History& history, std::size_t start) {
    start = std::min(start, history.size());
    const auto count = static_cast<py::ssize_t>(history.size() - start);
    py::array_t<double> losses(count);
    py::array_t<std::int64_t> steps(count);
    std::copy(history.losses.begin() + static_cast<std::ptrdiff_t>(start), history.losses.end(), losses.mutable_data());
    std::copy(history.steps.begin() + static_cast<std::ptrdiff_t>(start), history.steps.end(), steps.mutable_data());
    py::object diagnostics = py::none();
    if (history.diagnostic_count > 0) {
        const auto columns = static_cast<py::ssize_t>(history.diagnostic_count);
        py::array_t<double> table({count, columns});
        std::copy(history.diagnostics.begin() + static_cast<std::ptrdiff_t>(start) * columns, history.diagnostics.end(),
                  table.mutable_data());
        diagnostics = table;
    }
    return py::make_tuple(losses, steps, diagnostics);
}

// A history from a checkpoint's arrays (diagnostics required when `diagnostic_count` > 0).
inline History history_from(const py::array_t<double, py::array::c_style>& losses,
                            const py::array_t<std::int64_t, py::array::c_style>& loss_steps,
                            const std::optional<py::array_t<double, py::array::c_style>>& diagnostics,
                            int diagnostic_count) {
    if (losses.ndim() != 1 || loss_steps.ndim() != 1 || losses.shape(0) != loss_steps.shape(0)) {
        throw py::value_error("losses and loss_steps must be 1-D arrays of the same length");
    }
    History history;
    history.diagnostic_count = diagnostic_count;
    history.losses.assign(losses.data(), losses.data() + losses.shape(0));
    history.steps.assign(loss_steps.data(), loss_steps.data() + loss_steps.shape(0));
    if (diagnostic_count > 0) {
        if (!diagnostics || diagnostics->ndim() != 2 || diagnostics->shape(0) != losses.shape(0) ||
            diagnostics->shape(1) != diagnostic_count) {
            throw py::value_error("diagnostics must have one row of " + std::to_string(diagnostic_count) +
                                  " values per recorded loss");
        }
        history.diagnostics.assign(diagnostics->data(), diagnostics->data() + diagnostics->size());
    }
    return history;
}

// The execution context of one call (execution.hpp) from its Python arguments: threads (capped
// at the cores available), the instruction set and back end of the kernels ("auto" unless a
// test forces one) and the thread-split policy. An unknown or unavailable choice raises
// ValueError (std::invalid_argument).
inline ExecutionContext call_context(int threads, const std::string& isa = "auto", const std::string& backend = "auto",
                                     const std::string& split = "timed") {
    if (threads < 1) throw py::value_error("threads must be >= 1");
    return ExecutionContext::make(threads, isa, backend, split);
}

void register_core(py::module_& m);
void register_projections(py::module_& m);
void register_factorization(py::module_& m);
void register_training(py::module_& m);
void register_trainer(py::module_& m);
void register_batch(py::module_& m);

}  // namespace deeplinear::bindings
