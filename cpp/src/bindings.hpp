// numpy ↔ Eigen conversion for the binding sources: no math here.
// The Python layer (python/deeplinear/_validation.py) converts and validates every argument;
// these functions only re-check shapes, so that a direct call into _core cannot read out of
// bounds, and take C-contiguous arrays of the exact dtype (noconvert: no hidden copies).
#pragma once

#include <deeplinear/common.hpp>
#include <deeplinear/execution.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#ifdef DEEPLINEAR_OPENMP
#include <omp.h>
#endif

namespace deeplinear::bindings {

namespace py = pybind11;

template <class T>
using Array = py::array_t<T, py::array::c_style>;

template <class T>
LayerStack<const T> layers_view(const Array<T>& array, const char* name) {
    if (array.ndim() != 3 || array.shape(1) != array.shape(2) || array.shape(0) < 1 || array.shape(1) < 1) {
        throw py::value_error(std::string(name) + " must have shape (L, d, d) with L, d >= 1");
    }
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

// The execution context of one call (execution.hpp) from its Python arguments: threads (capped
// at the cores available), the instruction set and back end of the kernels ("auto" unless a
// test forces one) and the thread-split policy. An unknown or unavailable choice raises
// ValueError (std::invalid_argument).
inline ExecutionContext call_context(int threads, const std::string& isa = "auto",
                                     const std::string& backend = "auto", const std::string& split = "timed") {
    if (threads < 1) throw py::value_error("threads must be >= 1");
    return ExecutionContext::make(threads, isa, backend, split);
}

// Eigen's own products inside the decompositions may use OpenMP threads: the context's count for
// one scope, set for the calling thread only (OpenMP's per-thread setting), so concurrent calls
// from several Python threads do not interfere.
class OpenMpThreads {
public:
    explicit OpenMpThreads(const ExecutionContext& context) {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(context.threads);
#else
        (void)context;
#endif
    }
    ~OpenMpThreads() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
    }
    OpenMpThreads(const OpenMpThreads&) = delete;
    OpenMpThreads& operator=(const OpenMpThreads&) = delete;

private:
    int previous_ = 1;
};

void register_core(py::module_& m);
void register_projections(py::module_& m);
void register_factorization(py::module_& m);
void register_training(py::module_& m);

}  // namespace deeplinear::bindings
