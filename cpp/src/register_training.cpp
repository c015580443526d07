// Bindings: many training steps in one call (all methods, and the exact spectral dynamics).
#include "bindings.hpp"

#include <deeplinear/loop.hpp>
#include <deeplinear/methods.hpp>
#include <deeplinear/spectral.hpp>

#include <cstring>
#include <optional>
#include <string>

namespace deeplinear::bindings {

namespace {

Method parse_method(const std::string& name) {
    if (name == "gd") return Method::gd;
    if (name == "penalty") return Method::penalty;
    if (name == "step_and_project") return Method::step_and_project;
    if (name == "power_projection") return Method::power_projection;
    throw py::value_error("method must be one of 'gd', 'penalty', 'step_and_project', 'power_projection'");
}

const char* status_name(Status status) {
    switch (status) {
        case Status::converged: return "converged";
        case Status::max_steps: return "max_steps";
        case Status::diverged: return "diverged";
        case Status::interrupted: return "interrupted";
    }
    return "unknown";
}

LoopOptions loop_options(std::int64_t max_steps, double tol, std::int64_t record_every, std::int64_t first_step,
                         bool record_first) {
    if (max_steps < 0) throw py::value_error("max_steps must be >= 0");
    if (record_every < 1) throw py::value_error("record_every must be >= 1");
    LoopOptions options;
    options.max_steps = max_steps;
    options.tol = tol;
    options.record_every = record_every;
    options.first_step = first_step;
    options.record_first = record_first;
    return options;
}

// Runs the loop with the GIL released, polling for Ctrl-C; returns (status, steps, losses,
// loss_steps). A KeyboardInterrupt becomes status "interrupted" (the Python layer warns);
// any other exception raised by a signal handler propagates after the state is consistent.
template <class Stepper>
py::tuple run_released(Stepper& stepper, const LoopOptions& options, int threads, bool with_diagnostics) {
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
        ThreadScope scope(threads);
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

template <class T>
void register_for(py::module_& m) {
    m.def(
        "run",
        [](Array<T>& layers_array, const Array<T>& phi_array, const std::string& method, double lr, double gamma,
           double psi, double kappa, std::int64_t max_steps, double tol, std::int64_t record_every,
           std::int64_t first_step, bool record_first, int threads, bool diagnostics) {
            const auto layers = mutable_layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            MethodParams<T> params;
            params.method = parse_method(method);
            params.lr = static_cast<T>(lr);
            params.gamma = static_cast<T>(gamma);
            params.psi = static_cast<T>(psi);
            params.kappa = static_cast<T>(kappa);
            if (threads < 1) throw py::value_error("threads must be >= 1");
            const auto options = loop_options(max_steps, tol, record_every, first_step, record_first);
            DenseStepper<T> stepper(layers, phi, params);
            return run_released(stepper, options, threads, diagnostics);
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert(), py::arg("method"), py::arg("lr"),
        py::arg("gamma") = 0.0, py::arg("psi") = 0.0, py::arg("kappa") = 0.0, py::arg("max_steps"),
        py::arg("tol") = 0.0, py::arg("record_every") = 1, py::arg("first_step") = 0,
        py::arg("record_first") = true, py::arg("threads") = 1, py::arg("diagnostics") = false);

    m.def(
        "diagnostics",
        [](const Array<T>& layers_array, const Array<T>& phi_array) {
            const auto layers = layers_view<T>(layers_array, "layers");
            const auto phi = matrix_view<T>(phi_array, "phi", layers.dim);
            py::array_t<double> out(kDiagnosticCount);
            double* data = out.mutable_data();
            {
                py::gil_scoped_release release;
                ThreadScope threads(1);
                Diagnostics<T> diagnostics(layers.depth, layers.dim);
                diagnostics.compute(layers, phi, data);
            }
            return out;
        },
        py::arg("layers").noconvert(), py::arg("phi").noconvert());

    m.def(
        "spectral_run",
        [](Array<T>& a_array, const Array<T>& mu_array, Index depth, double lr, std::int64_t max_steps, double tol,
           std::int64_t record_every, std::int64_t first_step, bool record_first) {
            if (a_array.ndim() != 1 || mu_array.ndim() != 1 || a_array.shape(0) != mu_array.shape(0) ||
                a_array.shape(0) < 1) {
                throw py::value_error("a and mu must be 1-D arrays of the same length d >= 1");
            }
            if (!a_array.writeable()) throw py::value_error("a must be writable");
            if (depth < 1) throw py::value_error("depth must be >= 1");
            const auto options = loop_options(max_steps, tol, record_every, first_step, record_first);
            SpectralStepper<T> stepper(a_array.mutable_data(), mu_array.data(), a_array.shape(0), depth,
                                       static_cast<T>(lr));
            return run_released(stepper, options, 1, false);
        },
        py::arg("a").noconvert(), py::arg("mu").noconvert(), py::arg("depth"), py::arg("lr"), py::arg("max_steps"),
        py::arg("tol") = 0.0, py::arg("record_every") = 1, py::arg("first_step") = 0,
        py::arg("record_first") = true);
}

}  // namespace

void register_training(py::module_& m) {
    py::list names;
    for (const char* name : kDiagnosticNames) names.append(name);
    m.attr("diagnostic_names") = py::tuple(names);
    register_for<double>(m);
    register_for<float>(m);
}

}  // namespace deeplinear::bindings
