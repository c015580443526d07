// Bindings: polar decomposition and the balanced factorization (Definition 3).
#include "bindings.hpp"

#include <deeplinear/factorization.hpp>

#include <pybind11/stl.h>

namespace deeplinear::bindings {

template <class T>
static void register_for(py::module_& m) {
    m.def(
        "polar",
        [](const Array<T>& a_array) {
            const auto a = matrix_view<T>(a_array, "a");
            auto r = new_matrix<T>(a.rows());
            auto p = new_matrix<T>(a.rows());
            auto r_map = matrix_map(r);
            auto p_map = matrix_map(p);
            {
                py::gil_scoped_release release;
                const auto context = call_context(1);
                EigenOnOneThread eigen;
                BalancedFactorizer<T> factorizer(a.rows(), context);
                factorizer.polar(a, r_map, p_map);
            }
            return py::make_tuple(r, p);
        },
        py::arg("a").noconvert());

    m.def(
        "balanced_factorization",
        [](const Array<T>& a_array, Index depth, bool as_stepped) {
            const auto a = matrix_view<T>(a_array, "a");
            if (depth < 1) throw py::value_error("depth must be >= 1");
            auto out = new_layers<T>(depth, a.rows());
            auto out_view = layers_map(out);
            FactorStatus status;
            {
                py::gil_scoped_release release;
                const auto context = call_context(1);
                EigenOnOneThread eigen;
                BalancedFactorizer<T> factorizer(a.rows(), context);
                if (as_stepped) {
                    // as power projection factors a stepped product: from its SVD as it comes, however
                    // small σ_min is, refused only where σ_min = 0 (or σ is not finite)
                    factorizer.decompose(a);
                    const ColVector<T>& sigma = factorizer.sigma();
                    status = sigma.allFinite() && sigma(sigma.size() - 1) > T(0)
                                 ? factorizer.factor_svd(factorizer.u(), sigma, factorizer.v(), out_view)
                                 : FactorStatus::singular;
                } else {
                    status = factorizer.factor(a, out_view);
                }
            }
            if (status == FactorStatus::singular && as_stepped) {
                throw py::value_error("a is singular: its smallest singular value is 0");
            }
            if (status == FactorStatus::singular) {
                throw py::value_error(
                    "a is singular to working precision: the orthogonal factor of its polar decomposition, "
                    "and with it the balanced factorization, is not determined");
            }
            if (status == FactorStatus::negative_eigenvalue) {
                throw py::value_error(
                    "a has no real principal root: the orthogonal factor of its polar decomposition "
                    "has an eigenvalue -1");
            }
            return out;
        },
        py::arg("a").noconvert(), py::arg("depth"), py::arg("as_stepped") = false);
}

void register_factorization(py::module_& m) {
    register_for<double>(m);
    register_for<float>(m);
}

}  // namespace deeplinear::bindings
