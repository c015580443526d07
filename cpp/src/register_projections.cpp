// Bindings: positivity margin and the projections onto H_γ and the ψ-ball around I.
#include "bindings.hpp"

#include <deeplinear/projections.hpp>

namespace deeplinear::bindings {

template <class T>
static void register_for(py::module_& m) {
    m.def(
        "positivity_margin",
        [](const Array<T>& a_array) {
            const auto a = matrix_view<T>(a_array, "a");
            py::gil_scoped_release release;
            Projector<T> projector(a.rows());
            return static_cast<double>(projector.positivity_margin(a));
        },
        py::arg("a").noconvert());

    m.def(
        "project_positive",
        [](const Array<T>& a_array, double gamma) {
            const auto a = matrix_view<T>(a_array, "a");
            auto out = new_matrix<T>(a.rows());
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                EigenOnOneThread eigen;
                Projector<T> projector(a.rows());
                projector.project_positive(a, static_cast<T>(gamma), out_map);
            }
            return out;
        },
        py::arg("a").noconvert(), py::arg("gamma"));

    m.def(
        "project_identity_ball",
        [](const Array<T>& a_array, double psi) {
            const auto a = matrix_view<T>(a_array, "a");
            auto out = new_matrix<T>(a.rows());
            auto out_map = matrix_map(out);
            {
                py::gil_scoped_release release;
                EigenOnOneThread eigen;
                Projector<T> projector(a.rows());
                projector.project_identity_ball(a, static_cast<T>(psi), out_map);
            }
            return out;
        },
        py::arg("a").noconvert(), py::arg("psi"));
}

void register_projections(py::module_& m) {
    register_for<double>(m);
    register_for<float>(m);
}

}  // namespace deeplinear::bindings
