// numpy ↔ Eigen conversion for the binding sources: no math here.
// The Python layer (python/deeplinear/_validation.py) converts and validates every argument;
// these functions only re-check shapes, so that a direct call into _core cannot read out of
// bounds, and take C-contiguous arrays of the exact dtype (noconvert: no hidden copies).
#pragma once

#include <deeplinear/common.hpp>
#include <deeplinear/gemm.hpp>

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

// Sets the number of threads Eigen's products may use in this thread (OpenMP's per-thread
// setting, so concurrent runs from several Python threads do not interfere) for one scope.
class ThreadScope {
public:
    explicit ThreadScope(int threads) : previous_gemm_(gemm_threads()) {
#ifdef DEEPLINEAR_OPENMP
        previous_ = omp_get_max_threads();
        omp_set_num_threads(threads);
#endif
        set_gemm_threads(threads);
    }
    ~ThreadScope() {
#ifdef DEEPLINEAR_OPENMP
        omp_set_num_threads(previous_);
#endif
        set_gemm_threads(previous_gemm_);
    }
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

private:
    int previous_ = 1;
    int previous_gemm_ = 1;
};

void register_core(py::module_& m);
void register_projections(py::module_& m);
void register_factorization(py::module_& m);
void register_training(py::module_& m);

}  // namespace deeplinear::bindings
