"""A stand-in for brisknet._cuda on a machine without a GPU, for tests of the host side of the CUDA
engine (python/brisknet/models/cuda_engine.py and what fit, predict, evaluate, saving do around
it). It keeps its own copies of the parameters, optimizer state and data, as device memory is
separate from the host's, and trains them with the CPU engine (brisknet._core.Network): so a model
"on the GPU" must give the CPU engine's bits, and any missing copy between host and "device"
shows up as a difference. Not a model of the CUDA kernels: those need a GPU (tests/test_cuda.py)."""
import numpy as np

from brisknet import _core


def availability():
    return 1, ""


def device_name(device):
    return "fake CUDA device (the CPU engine)"


def runtime_version():
    return 13000


def driver_version():
    return 13000


class Network:
    def __init__(self, layers, loss, n_params, device=0):
        self.cpu = _core.Network(layers, loss)
        self.params = np.zeros(n_params, np.float32)  # the "device" copies
        self.grads = np.zeros(n_params, np.float32)
        self.state = [None] * 3
        self.data = None
        self.graphs_captured = 0
        self.uploads = {"params": 0, "state": 0, "data": 0}
        self.downloads = {"params": 0, "state": 0}

    def set_params(self, params, n):
        self.params[:] = params[:n]
        self.uploads["params"] += 1

    def get_params(self, out, n):
        out[:n] = self.params
        self.downloads["params"] += 1

    def clear_state(self):
        self.state = [None] * 3

    def set_state(self, slot, state, n):
        self.state[slot] = np.array(state[:n], np.float32)
        self.uploads["state"] += 1

    def get_state(self, slot, out, n):
        if self.state[slot] is None:
            raise ValueError(f"optimizer state {slot} is not on the device")
        out[:n] = self.state[slot]
        self.downloads["state"] += 1

    def set_data(self, x, labels, targets, sample_weight):
        copy = (lambda a: None if a is None else np.array(a))
        self.data = (copy(x), copy(labels), copy(targets), copy(sample_weight))
        self.uploads["data"] += 1

    def train(self, spec, rates, order, batch_size, calls, tf32=False):
        x, labels, targets, sample_weight = self.data
        rate = rates if rates.size != 1 else float(rates[0])
        self.graphs_captured = max(self.graphs_captured, 1)
        return self.cpu.train(self.params, self.grads, spec, list(self.state), rate, x, labels, targets,
                              sample_weight, order, batch_size, calls)

    def predict(self, x, batch_size, tf32=False):
        return self.cpu.predict(self.params, x, batch_size)
