"""FLOPs and parameter counts: exact values on a tiny made-up model, and published counts."""

from __future__ import annotations

import dataclasses

import pytest

from codebudget.models import presets
from codebudget.models.flops import (embedding_params, forward_flops_per_token, generation_flops,
                                     layer_matmul_params, non_embedding_params, prefill_flops, total_params)
from codebudget.models.presets import Architecture, all_presets, get_preset

# 2 layers, d_model 8, 2 query heads of 4, 1 KV head, SwiGLU MLP of 16, vocab 10.
TINY = Architecture(n_layers=2, d_model=8, n_heads=2, n_kv_heads=1, head_dim=4, d_ff=16, vocab_size=10,
                    max_context=64, tied_embeddings=True)


def test_tiny_parameter_counts_by_hand() -> None:
    # q 8*8 + k 8*4 + v 8*4 + o 8*8 + mlp 3*8*16 = 64+32+32+64+384
    assert layer_matmul_params(TINY) == 576
    # two layers of (576 + two RMSNorm weights of 8) + the final norm
    assert non_embedding_params(TINY) == 2 * (576 + 16) + 8 == 1192
    assert embedding_params(TINY) == 80
    assert total_params(TINY) == 1272
    assert total_params(dataclasses.replace(TINY, tied_embeddings=False)) == 1352


def test_tiny_forward_flops_by_hand() -> None:
    # 2*(2 layers*576) + 4*d_attn(8)*2 layers*context 5 + LM head 2*8*10
    assert forward_flops_per_token(TINY, None, 5) == 2304 + 320 + 160 == 2784
    assert forward_flops_per_token(TINY, None, 1) == 2304 + 64 + 160


def test_tiny_prefill_and_generation_by_hand() -> None:
    # prefill of 3: contexts 1, 2, 3, logits once
    assert prefill_flops(TINY, None, 3) == 3 * 2304 + 64 * (1 + 2 + 3) + 160 == 7456
    # 3 prompt + 3 completion: positions with contexts 1..5, logits 3 times
    assert generation_flops(TINY, None, 3, 3) == 5 * 2304 + 64 * 15 + 3 * 160 == 12960
    decode = forward_flops_per_token(TINY, None, 4) + forward_flops_per_token(TINY, None, 5)
    assert generation_flops(TINY, None, 3, 3) == prefill_flops(TINY, None, 3) + decode
    assert generation_flops(TINY, None, 3, 1) == generation_flops(TINY, None, 3, 0) == prefill_flops(TINY, None, 3)


def test_sliding_window_caps_attention_by_hand() -> None:
    windowed = dataclasses.replace(TINY, sliding_window=2, sliding_layers=1)
    # context 5: the full layer attends to 5, the sliding one to 2 -> 4*8*(5+2)
    assert forward_flops_per_token(windowed, None, 5) == 2304 + 4 * 8 * 7 + 160
    # generation over contexts 1..5: full layer 15, sliding layer 1+2+2+2+2 = 9
    assert generation_flops(windowed, None, 3, 3) == 5 * 2304 + 32 * (15 + 9) + 3 * 160


@pytest.mark.parametrize("arch", [TINY, dataclasses.replace(TINY, sliding_window=3, sliding_layers=2),
                                  presets.GEMMA3_270M, presets.STARCODER2_3B])
def test_closed_form_equals_the_sum_of_forward_passes(arch: Architecture) -> None:
    for prompt, completion in [(1, 0), (1, 1), (7, 1), (7, 9), (40, 600)]:
        positions = prompt + max(completion - 1, 0)
        body_and_head = sum(forward_flops_per_token(arch, None, c) for c in range(1, positions + 1))
        extra_heads = positions - max(completion, 1)
        head = 2 * arch.d_model * arch.vocab_size
        assert generation_flops(arch, None, prompt, completion) == body_and_head - extra_heads * head


def test_grouped_query_attention_only_shrinks_k_and_v() -> None:
    mha = dataclasses.replace(TINY, n_kv_heads=2)
    # k and v grow from 8x4 to 8x8 in both layers: 2 layers * 2 matrices * 32 weights
    assert non_embedding_params(mha) - non_embedding_params(TINY) == 128
    # per token that is 2*128 FLOPs more; the attention over the context does not change
    for context in (1, 10, 60):
        diff = forward_flops_per_token(mha, None, context) - forward_flops_per_token(TINY, None, context)
        assert diff == 256


def test_flops_grow_with_context_prompt_and_completion() -> None:
    arch = presets.QWEN25_CODER_05B
    by_context = [forward_flops_per_token(arch, None, c) for c in (1, 10, 100, 1000, 10000)]
    assert by_context == sorted(by_context) and len(set(by_context)) == 5
    by_prompt = [generation_flops(arch, None, p, 50) for p in (1, 10, 100, 1000)]
    assert by_prompt == sorted(by_prompt) and len(set(by_prompt)) == 4
    by_completion = [generation_flops(arch, None, 100, n) for n in (1, 2, 10, 100, 1000)]
    assert by_completion == sorted(by_completion) and len(set(by_completion)) == 5


def test_short_context_is_close_to_two_flops_per_weight() -> None:
    # Kaplan's C ~ 2N with N = non-embedding + LM head, at a short context
    arch = presets.QWEN25_CODER_7B
    weights = non_embedding_params(arch) + embedding_params(arch)
    assert forward_flops_per_token(arch, None, 1) == pytest.approx(2 * weights, rel=0.001)


def test_without_architecture_a_token_costs_two_flops_per_parameter() -> None:
    assert forward_flops_per_token(None, 1000, 77) == 2000.0
    assert generation_flops(None, 1000, 10, 5) == 2000.0 * 14
    with pytest.raises(ValueError):
        forward_flops_per_token(None, None, 5)


@pytest.mark.parametrize("prompt,completion", [(0, 5), (5, -1)])
def test_impossible_token_counts_are_rejected(prompt: int, completion: int) -> None:
    with pytest.raises(ValueError):
        generation_flops(TINY, None, prompt, completion)


def test_qwen_coder_05b_counts_match_the_file_and_the_report() -> None:
    preset = get_preset("qwen2.5-coder-0.5b-instruct")
    # the GGUF holds 630,167,424 weights: the model plus a copy of the tied 151936x896 embedding
    assert total_params(preset.arch) == 630_167_424 - 151936 * 896 == preset.params
    assert total_params(preset.arch) == pytest.approx(0.49e9, rel=0.02)  # Qwen2.5 report: 0.49B
    assert non_embedding_params(preset.arch) == pytest.approx(0.36e9, rel=0.02)  # and 0.36B non-embedding


def test_smollm2_and_gemma_counts_match_their_files() -> None:
    assert total_params(presets.SMOLLM2_135M) == 134_515_008  # tensor total of the GGUF
    assert total_params(presets.SMOLLM2_135M) == pytest.approx(135e6, rel=0.01)
    # Gemma 3's sandwich and q/k norms (18 * (2*640 + 2*256) weights) are not counted
    assert get_preset("gemma3-270m").params - total_params(presets.GEMMA3_270M) == 18 * (2 * 640 + 2 * 256)


# Model-card figures (total, non-embedding where published), for the shapes in presets.py.
PUBLISHED = {
    "qwen2.5-coder-1.5b": (1.54e9, 1.31e9),
    "qwen2.5-coder-3b": (3.09e9, 2.77e9),
    "qwen2.5-coder-7b": (7.61e9, 6.53e9),
    "qwen2.5-coder-14b": (14.7e9, 13.1e9),
    "deepseek-coder-1.3b": (1.35e9, None),
    "deepseek-coder-6.7b": (6.74e9, None),
    "codellama-7b": (6.74e9, None),
    "codellama-13b": (13.0e9, None),
    "starcoder2-3b": (3.03e9, None),
    "starcoder2-7b": (7.17e9, None),
    "starcoder2-15b": (15.96e9, None),
    "yi-coder-1.5b": (1.48e9, None),
    "yi-coder-9b": (8.83e9, None),
    "opencoder-1.5b": (1.91e9, None),
    "opencoder-8b": (7.77e9, None),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_counts_from_config_shapes_match_model_cards(name: str) -> None:
    total, non_embedding = PUBLISHED[name]
    arch = get_preset(name).arch
    assert total_params(arch) == pytest.approx(total, rel=0.01)
    if non_embedding is not None:
        assert non_embedding_params(arch) == pytest.approx(non_embedding, rel=0.01)


def test_every_preset_count_agrees_with_its_architecture() -> None:
    for preset in all_presets():
        assert total_params(preset.arch) == pytest.approx(preset.params, rel=2e-4), preset.name
