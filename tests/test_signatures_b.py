"""Table tests for log signatures group B (`v4doctor/knowledge/signatures_b.toml`).

Hit rows: a real line (from a fixture or quoted from the public issue named beside it) and the values
the regex must extract. No-hit rows: a real line that looks close, and why it must not fire. Then the
lines go through `diagnose_text` to check what a user sees: the root cause first, the values in the
title and fix, wrappers folded into their cause. The generic schema/sample test is test_signatures.py.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import LOGS
from v4doctor.knowledge.kb import load
from v4doctor.logs import diagnose_text
from v4doctor.logs.reader import clean_line
from v4doctor.logs.signatures import load_signatures

B = {s.id: s for s in load_signatures() if s.file == "signatures_b.toml"}
GROUP_B_CATEGORIES = {
    "nccl_or_shm", "disk_full", "hf_auth_or_gated", "hf_rate_limit_or_network", "corrupt_or_incomplete_weights",
    "gguf_bad_file_or_arch", "docker_gpu_runtime", "port_in_use", "slow_download",
}


def _values(sig_id: str, line: str) -> dict[str, str] | None:
    m = B[sig_id].match(clean_line(line))
    return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}


def _fired(line: str) -> list[str]:
    return sorted(sid for sid, s in B.items() if s.match(clean_line(line)))


HITS = [
    # nccl_or_shm
    ("SIG-NCCL-SHM-NO-SPACE", "gpu2-ru7:2143:2561 [1] include/shm.h:28 NCCL WARN Call to posix_fallocate failed : No space left on device", {}),
    ("SIG-NCCL-SHM-NO-SPACE", "include/shm.h:48 NCCL WARN Error while creating shared memory segment nccl-shm-recv-250a7cc850ba9298-0-1-3 (size 9637888)",
     {"segment": "nccl-shm-recv-250a7cc850ba9298-0-1-3", "size": "9637888"}),
    ("SIG-NCCL-UNHANDLED-SYSTEM-ERROR", "(VllmWorkerProcess pid=221) ERROR 04-06 20:46:48 [multiproc_worker_utils.py:238] torch.distributed.DistBackendError: NCCL error in: /pytorch/torch/csrc/distributed/c10d/NCCLUtils.hpp:268, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5",
     {"nccl_version": "2.21.5"}),
    ("SIG-NCCL-UNHANDLED-SYSTEM-ERROR", "[rank1]: RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for details)", {}),
    ("SIG-NCCL-UNHANDLED-CUDA-ERROR", "(pid=909597) RuntimeError: NCCL error in: /opt/conda/conda-bld/pytorch_1603729062494/work/torch/lib/c10d/ProcessGroupNCCL.cpp:784, unhandled cuda error, NCCL version 2.7.8", {}),
    ("SIG-NCCL-WATCHDOG-TIMEOUT", "[rank0]:[E ProcessGroupNCCL.cpp:563] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=2, OpType=ALLREDUCE, NumelIn=134217728, NumelOut=134217728, Timeout(ms)=600000) ran for 600059 milliseconds before timing out.",
     {"seq": "2", "op": "ALLREDUCE", "timeout_ms": "600000", "ran_ms": "600059"}),
    # https://github.com/hiyouga/LlamaFactory/issues/6269
    ("SIG-NCCL-WATCHDOG-TIMEOUT", "[rank0]:[E1206 18:44:12.715298746 ProcessGroupNCCL.cpp:607] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7753, OpType=_REDUCE_SCATTER_BASE, NumelIn=544997376, NumelOut=68124672, Timeout(ms)=600000) ran for 600061 milliseconds before timing out.",
     {"seq": "7753", "op": "_REDUCE_SCATTER_BASE"}),
    # https://github.com/ggml-org/llama.cpp/issues/3230 (title: llama.cpp's wording)
    ("SIG-GPU-P2P-UNSUPPORTED", "CUDA error 217 at ggml-cuda.cu:6292: peer access is not supported between these two devices", {}),
    # https://github.com/pangeo-data/pangeo-docker-images/issues/258
    ("SIG-SHM-BUS-ERROR", "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).", {}),
    # disk_full
    ("SIG-DISK-FULL-ERRNO28", "OSError: [Errno 28] No space left on device", {}),
    # https://github.com/hiyouga/LlamaFactory/issues/5155 (title: the exception as printed)
    ("SIG-DISK-FULL-ERRNO28", 'safetensors_rust.SafetensorError: Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })', {}),
    ("SIG-HF-NOT-ENOUGH-DISK", "UserWarning: Not enough free disk space to download the file. The expected file size is: 3945.44 MB. The target location /root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/blobs only has 3421.60 MB free disk space.",
     {"expected_mb": "3945.44", "free_mb": "3421.60", "path": "/root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/blobs"}),
    # https://github.com/NVIDIA-NeMo/Speech/issues/1029
    ("SIG-DOCKER-PULL-NO-SPACE", "failed to register layer: Error processing tar file(exit status 1): write /opt/conda/lib/python3.6/site-packages/torch/lib/libtorch.so: no space left on device.", {}),
    # hf_auth_or_gated
    ("SIG-HF-GATED-NOT-AUTHORIZED", "Access to model google/gemma-3-4b-pt is restricted and you are not in the authorized list. Visit https://huggingface.co/google/gemma-3-4b-pt to ask for access.",
     {"repo": "google/gemma-3-4b-pt"}),
    # https://github.com/vladmandic/sdnext/issues/4043 (the line is wrapped as posted)
    ("SIG-HF-GATED-LOGIN-REQUIRED", "                         Access to model black-forest-labs/FLUX.1-dev is restricted. You must have access to it and ",
     {"repo": "black-forest-labs/FLUX.1-dev"}),
    ("SIG-HF-GATED-REPO", "OSError: You are trying to access a gated repo.", {}),
    ("SIG-HF-REPO-NOT-FOUND", "Repository Not Found for url: https://huggingface.co/None/resolve/main/config.json.", {"repo": "None"}),
    # https://github.com/docling-project/docling/issues/923 (title)
    ("SIG-HF-REPO-NOT-FOUND", "Repository Not Found for url: https://huggingface.co/api/models/ds4sd/docling-models/revision/v2.1.0.", {"repo": "ds4sd/docling-models"}),
    # https://github.com/Jiaxuan-Li/EVCap/issues/10
    ("SIG-HF-REPO-NOT-FOUND", "Repository Not Found for url: https://huggingface.co/vicuna-13b-v1.3/resolve/main/tokenizer.model.", {"repo": "vicuna-13b-v1.3"}),
    ("SIG-HF-HTTP-401-403", "HTTPError: 403 Client Error: Forbidden for url: https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct/resolve/main/config.json",
     {"status": "403", "repo": "meta-llama/Meta-Llama-3-8B-Instruct"}),
    # https://github.com/huggingface/huggingface_hub/issues/3368 (curl against the hub)
    ("SIG-HF-INVALID-TOKEN", 'Response: {"error":"Invalid credentials in Authorization header"}', {}),
    # hf_rate_limit_or_network; https://github.com/huggingface/xet-core/issues/444 (title)
    ("SIG-HF-XET-CAS-ERROR", "Download issue RuntimeError: Data processing error: CAS service error : IO Error: Timer expired", {"detail": "IO Error: Timer expired"}),
    # https://github.com/ollama/ollama/issues/6173
    ("SIG-OLLAMA-PULL-NETWORK", 'Error: pull model manifest: Get "https://registry.ollama.ai/v2/library/gemma2/manifests/2b": net/http: TLS handshake timeout.',
     {"host": "registry.ollama.ai", "reason": "net/http: TLS handshake timeout."}),
    ("SIG-HF-RATE-LIMIT-429", "requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for URL: https://huggingface.co/meta-llama/Meta-Llama-3-8B/resolve/main/config.json",
     {"url": "https://huggingface.co/meta-llama/Meta-Llama-3-8B/resolve/main/config.json"}),
    ("SIG-HF-CONNECTION-FAILED", "(APIServer pid=1) [2026-05-21 23:55:54] WARNING _http.py:320: '(MaxRetryError(\"HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /openai/gpt-oss-120b/resolve/main/config.json (Caused by ConnectTimeoutError(<HTTPSConnection(host='huggingface.co', port=443) at 0xf0ff49d14050>, 'Connection to huggingface.co timed out. (connect timeout=10)'))\"), '(Request ID: 092a846c-0a2a-4c7b-9fe6-cc51013bccfa)')' thrown while requesting HEAD https://huggingface.co/openai/gpt-oss-120b/resolve/main/config.json",
     {"host": "huggingface.co", "reason": "ConnectTimeoutError"}),
    # https://github.com/datalab-to/marker/issues/308 and https://github.com/padeoe/hf-mirror-site/issues/43
    ("SIG-HF-READ-TIMEOUT", "- ReadTimeout: (ReadTimeoutError(\"HTTPSConnectionPool(host='cdn-lfs-us-1.hf.co', port=443): Read timed out.", {"host": "cdn-lfs-us-1.hf.co"}),
    ("SIG-HF-READ-TIMEOUT", "HTTPSConnectionPool(host='cdn-lfs-us-1.hf-mirror.com', port=443): Read timed out.", {"host": "cdn-lfs-us-1.hf-mirror.com"}),
    # corrupt_or_incomplete_weights; https://github.com/datalab-to/marker/issues/970 (title)
    ("SIG-SAFETENSORS-BAD-HEADER", "safetensors_rust.SafetensorError: Error while deserializing header: incomplete metadata, file not fully covered",
     {"reason": "incomplete metadata, file not fully covered"}),
    ("SIG-SAFETENSORS-BAD-HEADER", "safetensors_rust.SafetensorError: Error while deserializing header: MetadataIncompleteBuffer", {"reason": "MetadataIncompleteBuffer"}),
    # https://github.com/padeoe/hf-mirror-site/issues/4
    ("SIG-HF-CONSISTENCY-CHECK", "`OSError: Consistency check failed: file should be of size 4983508568 but has size 3507967946 (model-00001-of-00006.safetensors).",
     {"expected": "4983508568", "actual": "3507967946", "file": "model-00001-of-00006.safetensors"}),
    ("SIG-MISSING-SHARD", "OSError: meta-llama/Llama-4-Scout-17B-16E-Instruct does not appear to have files named ('model-00002-of-00050.safetensors', 'model-00003-of-00050.safetensors'). Checkout",
     {"shard": "model-00002-of-00050.safetensors"}),
    ("SIG-GGUF-OUT-OF-BOUNDS", "llama_model_load: error loading model: tensor 'blk.3.attn_qkv.weight' data is not within the file bounds, model is corrupted or incomplete",
     {"tensor": "blk.3.attn_qkv.weight"}),
    # https://github.com/modal-labs/modal-examples/issues/837
    ("SIG-VLLM-NO-WEIGHTS", "Runner failed with exception: RuntimeError('Cannot find any model weights with /llamas/c123ian/irish_eng_transl_2k_test_uuix')",
     {"model": "/llamas/c123ian/irish_eng_transl_2k_test_uuix"}),
    # https://github.com/huggingface/text-generation-inference/issues/888
    ("SIG-MODEL-PATH-NOT-FOUND", "huggingface_hub.utils._validators.HFValidationError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/home/userone/Desktop/text-generation-inference/llama_local'. Use `repo_type` argument if needed",
     {"path": "/home/userone/Desktop/text-generation-inference/llama_local"}),
    # https://github.com/ggml-org/llama.cpp/pull/18884
    ("SIG-GGUF-FILE-NOT-FOUND", "[44039] E gguf_init_from_file: failed to open GGUF file 'mistral-7b-v0.1.Q8_0.gguf' (errno No such file or directory)",
     {"path": "mistral-7b-v0.1.Q8_0.gguf"}),
    ("SIG-GGUF-SPLIT-MISSING", "llama_model_load: error loading model: llama_model_loader: failed to load GGUF split from Kimi-K2-Instruct-BF16-384x14B-Q2_K_S-00002-of-00013.gguf",
     {"split": "Kimi-K2-Instruct-BF16-384x14B-Q2_K_S-00002-of-00013.gguf"}),
    ("SIG-GGUF-BAD-SPLIT-FILE", "llama_model_load: error loading model: invalid split file: llama.gguf", {"file": "llama.gguf"}),
    # gguf_bad_file_or_arch; https://github.com/abetlen/llama-cpp-python/issues/1556 (LM Studio's wording)
    ("SIG-LLAMACPP-UNKNOWN-ARCH", "  \"cause\": \"llama.cpp error: 'error loading model architecture: unknown model architecture: 'deepseek2''\",", {"arch": "deepseek2"}),
    ("SIG-LLAMACPP-UNKNOWN-ARCH", "llama_model_load: error loading model: error loading model architecture: unknown model architecture: 'deepseek4'", {"arch": "deepseek4"}),
    ("SIG-LLAMACPP-MISSING-TENSOR", "llama_model_load: error loading model: missing tensor 'output_norm.weight'", {"tensor": "output_norm.weight"}),
    ("SIG-LLAMACPP-UNKNOWN-PRETOKENIZER", "llama_model_load: error loading model: error loading model vocabulary: unknown pre-tokenizer type: 'deepseek-v3.1'", {"pretokenizer": "deepseek-v3.1"}),
    ("SIG-GGUF-INVALID-MAGIC", "gguf_init_from_file: invalid magic characters 'vers'", {"magic": "vers"}),
    ("SIG-GGUF-INVALID-MAGIC", "gguf_init_from_file: invalid magic number 67676a74", {"number": "67676a74"}),
    # https://github.com/city96/ComfyUI-GGUF/issues/43 (the gguf Python reader)
    ("SIG-GGUF-INVALID-MAGIC", "ValueError: GGUF magic invalid", {}),
    ("SIG-LLAMACPP-LOAD-FAILED", "common_init_from_params: failed to load model '/data2/DeepSeek-V3.1-GGUF/q4_k_m/DeepSeek-V3.1-Q4_K_M.gguf'", {}),
    ("SIG-OLLAMA-UNSUPPORTED-ARCH", ' **_ollama converting model Error: unsupported architecture "DeepseekV4ForCausalLM"_**', {"arch": "DeepseekV4ForCausalLM"}),
    # https://github.com/huggingface/hub-docs/issues/2702 (the hub's answer to Ollama, as curl printed it)
    ("SIG-OLLAMA-HF-SHARDED-GGUF", '# {"error":"The specified tag is a sharded GGUF. Ollama does not support this yet. Please use another tag or \\"latest\\". Follow this issue for more info: https://github.com/ollama/ollama/issues/5245"}', {}),
    ("SIG-OLLAMA-HF-BAD-TAG", 'Error: pull model manifest: 400: The specified tag is not a valid quantization scheme. Please use another tag or "latest"', {}),
    ("SIG-VLLM-GGUF-ARCH-UNSUPPORTED", " ValueError: GGUF model with architecture deepseek2 is not supported yet.", {"arch": "deepseek2"}),
    ("SIG-VLLM-GGUF-PLUGIN-UNKNOWN-TYPE", "RuntimeError: Unknown gguf model_type: deepseek_v4", {"model_type": "deepseek_v4"}),
    # docker_gpu_runtime; https://github.com/NVIDIA/nvidia-docker/issues/1642 (no quotes around the driver)
    ("SIG-DOCKER-NO-GPU-DRIVER", "docker: Error response from daemon: could not select device driver with capabilities: [[gpu]].", {}),
    ("SIG-DOCKER-NO-GPU-DRIVER", 'Error response from daemon: could not select device driver "nvidia" with capabilities: [[gpu]]', {"driver": "nvidia"}),
    ("SIG-DOCKER-UNKNOWN-RUNTIME-NVIDIA", "docker: Error response from daemon: unknown or invalid runtime name: nvidia.", {"runtime": "nvidia"}),
    ("SIG-NVIDIA-CONTAINER-CLI", "nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1: cannot open shared object file: no such file or directory: unknown.",
     {"detail": "initialization error: load library failed: libnvidia-ml.so.1: cannot open shared object file: no such file or directory: unknown."}),
    # https://github.com/NVIDIA/nvidia-docker/issues/1442 and https://github.com/NVIDIA/nvidia-docker/issues/688 (title)
    ("SIG-NVIDIA-CONTAINER-CUDA-REQUIREMENT", "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=11.0, please update your driver to a newer version, or use an earlier cuda container: unknown", {"cuda": "11.0"}),
    ("SIG-NVIDIA-CONTAINER-CUDA-REQUIREMENT", "nnvidia-container-cli: requirement error: unsatisfied condition: cuda >= 9.0", {"cuda": "9.0"}),
    ("SIG-VLLM-NO-DEVICE", "RuntimeError: Failed to infer device type", {}),
    # port_in_use
    ("SIG-PORT-IN-USE-UVICORN", ">   | [2024-09-05T00:38:34Z] ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 44319): [errno 98] address already in use",
     {"host": "0.0.0.0", "port": "44319"}),
    # https://github.com/wandb/openui/issues/226 (uvicorn's wording without the inner errno)
    ("SIG-PORT-IN-USE-UVICORN", "ERROR (uvicorn.error):  [Errno 98] error while attempting to bind on address ('0.0.0.0', 7878): address already in use", {"port": "7878"}),
    # https://github.com/vllm-project/vllm/issues/7196 (title)
    ("SIG-PORT-IN-USE-ERRNO98", "ZMQError: Address already in use (addr='tcp://127.0.0.1:5570')", {}),
    ("SIG-PORT-IN-USE-TORCH-STORE", "RuntimeError: The server socket has failed to listen on any local network address. useIpv6: 0, code: -98, name: EADDRINUSE, message: address already in use", {}),
    # https://github.com/ollama/ollama/issues/9960
    ("SIG-PORT-IN-USE-GO-LISTEN", "Error: listen tcp 0.0.0.0:11434: bind: Only one usage of each socket address (protocol/network address/port) is normally permitted.",
     {"host": "0.0.0.0", "port": "11434"}),
    # https://github.com/bernardo-bruning/ollama-copilot/issues/36 (title: no host part)
    ("SIG-PORT-IN-USE-GO-LISTEN", "failed to listen: listen tcp :11435: bind: address already in use", {"host": "", "port": "11435"}),
    # https://github.com/neavo/OneClickLLAMA/issues/10
    ("SIG-PORT-IN-USE-LLAMA-SERVER", "main: couldn't bind HTTP server socket, hostname: 0.0.0.0, port: 8080", {"host": "0.0.0.0", "port": "8080"}),
    # slow_download
    ("SIG-HF-XET-NOT-INSTALLED", "Xet Storage is enabled for this repo, but the 'hf_xet' package is not installed. Falling back to regular HTTP download. For better performance, install the package with: `pip install huggingface_hub[hf_xet]` or `pip install hf_xet`", {}),
    ("SIG-SLOW-DOWNLOAD-PROGRESS", "pytorch_model.bin: 98%|█████████████████████████████████████████████████████████▊ | 1.51G/1.54G [10:55<02:43, 193kB/s]",
     {"done": "1.51G", "total": "1.54G", "rate": "193"}),
]


@pytest.mark.parametrize("sig_id,line,values", HITS, ids=[f"{h[0]}-{i}" for i, h in enumerate(HITS)])
def test_hit_extracts_the_values(sig_id, line, values):
    got = _values(sig_id, line)
    assert got is not None, f"{sig_id} does not match: {line[:120]}"
    assert {k: got.get(k) for k in values} == values


def test_every_group_b_signature_that_extracts_values_has_a_hit_row():
    """Signatures without named groups are covered by their samples (tests/test_signatures.py)."""
    extracting = {sid for sid, s in B.items() if s.pattern.groupindex}
    assert extracting - {row[0] for row in HITS} == set()


ANY = "any group B signature"
NO_HITS = [
    # (which signature must stay silent, a real line, why)
    (ANY, "gpu2-ru7:2144:2556 [2] NCCL INFO Ring 00 : 2[3d000] -> 3[3e000] via direct shared memory",
     "NCCL INFO choosing its shared-memory transport is healthy; 'shared memory' alone is no bus error"),
    (ANY, "ae05277d311f:55933:55933 [1] NCCL INFO NET/Plugin: Plugin load returned 2 : libnccl-net.so: cannot open shared object file: No such file or directory : when loading libnccl-net.so",
     "a missing optional NCCL net plugin is an INFO line on every non-IB host"),
    (ANY, "[2025-06-16 17:17:39] kilo:318:3584 [5] misc/ibvwrap.cc:183 NCCL WARN Call to ibv_reg_dmabuf_mr failed with error Cannot allocate memory",
     "an InfiniBand registration failure is NCCL WARN but not /dev/shm (source: vllm#19613)"),
    ("SIG-DISK-FULL-ERRNO28", "gpu2-ru7:2143:2561 [1] include/shm.h:28 NCCL WARN Call to posix_fallocate failed : No space left on device",
     "NCCL's 'No space left' is /dev/shm, not the disk: the shm signature owns it"),
    ("SIG-DOCKER-PULL-NO-SPACE", "OSError: [Errno 28] No space left on device", "Python's errno line is not a docker layer extraction"),
    (ANY, "LICENSE: 100%|████████████████████████████████████| 11.3k/11.3k [00:00<00:00, 28.6MB/s]",
     "a finished download at MB/s is healthy"),
    (ANY, "config_sentence_transformers.json: 100%|█████████████████████████████████████████████████████████████| 116/116 [00:00<00:00, 58.0kB/s]",
     "kB/s on a 116-byte file says nothing about bandwidth (source: pinokiofactory/open-webui#17)"),
    (ANY, ".gitattributes: 1.23kB [00:00, 611kB/s]", "a tiny file's rate, without a total to compare"),
    (ANY, "Downloading (…)l-00001-of-00003.bin:  48%|█████████████████████████████████████████████████████████████▎                                                                   | 4.70G/9.88G [00:22<03:06, 27.8MB/s]",
     "27.8 MB/s is not a crawl (source: h2oai/h2ogpt#533)"),
    (ANY, "Fetching 14 files:   0%|                                        | 0/14 [00:00<?, ?it/s]", "a file counter, not a byte rate"),
    (ANY, "INFO:     Uvicorn running on http://0.0.0.0:19000 (Press CTRL+C to quit)", "the server bound its port"),
    (ANY, 'time=2024-04-05T07:13:53.852-05:00 level=INFO source=routes.go:1118 msg="Listening on 127.0.0.1:11434 (version 0.1.30)"',
     "ollama listening is the healthy outcome"),
    (ANY, "ERROR:    [Errno 99] error while attempting to bind on address ('::1', 8000, 0, 0): cannot assign requested address",
     "errno 99 is a bad --host, not a port in use (source: abetlen/llama-cpp-python#77)"),
    (ANY, "0.00.998.088 I llama_model_loader: - kv  18:                      deepseek4.block_count u32              = 43",
     "a deepseek4 GGUF being read by a build that knows it"),
    (ANY, "print_info: EOG token             = 1 '<｜end▁of▁sentence｜>'", "token metadata, no error"),
    (ANY, "load_tensors: loading model tensors, this can take a while... (mmap = true, direct_io = false)", "normal load progress"),
    (ANY, "Loading safetensors checkpoint shards: 100% Completed | 46/46 [00:56<00:00,  1.22it/s]", "all 46 V4-Flash shards loaded"),
    (ANY, '    raise RuntimeError("Failed to infer device type")', "the source line in a traceback, not the error"),
    (ANY, " - [x] Some nvidia-container information: `nvidia-container-cli -k -d /dev/tty info`", "the toolkit's command name, not its error"),
    (ANY, "docker run --gpus all --rm -it nvidia/cuda:11.4.2-base-ubuntu18.04 bash", "a GPU docker command line is not a failure"),
    (ANY, "Make sure to have access to it at https://huggingface.co/google/gemma-3-4b-pt.", "advice text; the gated lines below carry the cause"),
    (ANY, "(APIServer pid=1) [2026-05-21 23:55:54] WARNING _http.py:329: Retrying in 8s [Retry 4/5].", "a retry notice names no host or reason"),
    (ANY, "requests.exceptions.HTTPError: 400 Client Error: Bad Request for url: https:", "400 is neither auth nor rate limit (source: huggingface/xet-core#238)"),
    (ANY, "Failed to load model.", "LM Studio's UI text, no llama.cpp function (source: lmstudio-ai/lmstudio-bug-tracker#2069)"),
    ("SIG-HF-HTTP-401-403", "huggingface_hub.utils._errors.RepositoryNotFoundError: 401 Client Error. (Request ID: Root=1-67ff8411-0b02c71d2dabd17f4c82e40d;760e6e3c-72d4-4e1b-a52c-57badd559390)",
     "the hub's own 401 wording belongs to the repo-not-found signature (source: Jiaxuan-Li/EVCap#10)"),
    (ANY, "I have problem with pulling manifest, while running \"ollama run dolphin-mixtral:latest\" for the first time I've got \"Error: max retries exceeded: unexpected EOF\" and now I am unable to restart download getting \"Error: pull model manifest: file does not exist\".",
     "'file does not exist' is a misspelt model name, not the network (source: ollama/ollama#1770)"),
    ("SIG-NVIDIA-CONTAINER-CLI", "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container",
     "a CUDA requirement error is a driver problem with its own signature"),
]


@pytest.mark.parametrize("sig_id,line,reason", NO_HITS, ids=[f"nohit-{i}" for i in range(len(NO_HITS))])
def test_no_hit(sig_id, line, reason):
    fired = _fired(line)
    bad = fired if sig_id == ANY else [s for s in fired if s == sig_id]
    assert not bad, f"{bad} fired on: {line[:120]} — must not, because {reason}"


# ---------------------------------------------------------------- through diagnose: what the user sees


def _text(name: str) -> str:
    return (LOGS / name).read_text(encoding="utf-8")


def _diagnose(name: str):
    return diagnose_text(_text(name))


def test_shm_failure_is_the_cause_and_the_nccl_error_its_consequence():
    d = _diagnose("b-nccl-shm-vllm-h200.log")
    assert [(i.id, i.role) for i in d.items] == [("SIG-NCCL-SHM-NO-SPACE", "cause"), ("SIG-NCCL-UNHANDLED-SYSTEM-ERROR", "consequence")]
    assert "--ipc=host" in d.items[0].fix and not d.healthy


def test_missing_p2p_is_the_cause_of_the_nccl_cuda_error_printed_before_it():
    d = _diagnose("b-p2p-unsupported-nccl.log")
    assert [(i.id, i.role) for i in d.items] == [("SIG-GPU-P2P-UNSUPPORTED", "cause"), ("SIG-NCCL-UNHANDLED-CUDA-ERROR", "consequence")]
    assert "--disable-custom-all-reduce" in d.items[0].fix


def test_a_lone_watchdog_timeout_is_still_reported_with_its_numbers():
    d = _diagnose("b-nccl-watchdog-timeout.log")
    top = d.items[0]
    assert (top.id, top.role, top.severity) == ("SIG-NCCL-WATCHDOG-TIMEOUT", "consequence", "error")
    assert top.title == "NCCL ALLREDUCE timed out after 600059 ms" and "600000 ms" in top.cause


@pytest.mark.parametrize("name,cause_id,repo", [
    ("b-hf-gated-login-sglang.log", "SIG-HF-GATED-LOGIN-REQUIRED", "meta-llama/Llama-3.2-1B-Instruct"),
    ("b-hf-gated-not-authorized.log", "SIG-HF-GATED-NOT-AUTHORIZED", "google/gemma-3-4b-pt"),
])
def test_gated_repo_names_the_repo_and_folds_the_generic_line(name, cause_id, repo):
    d = _diagnose(name)
    assert len(d.items) == 1
    item = d.items[0]
    assert item.id == cause_id and "SIG-HF-GATED-REPO" in item.matched
    assert repo in item.title and f"https://huggingface.co/{repo}" in item.fix


def test_connection_retries_then_a_cache_miss_report_the_error_first():
    """Two real fixtures back to back (vLLM's retry warnings, then the hub's cache-miss error): the error leads."""
    d = diagnose_text(_text("b-hf-connect-timeout-vllm.log") + _text("b-hf-local-entry-not-found.log"))
    assert [(i.id, i.severity) for i in d.items] == [("SIG-HF-LOCAL-ENTRY-NOT-FOUND", "error"), ("SIG-HF-CONNECTION-FAILED", "warning")]
    assert not d.healthy and "huggingface.co" in d.items[1].title


@pytest.mark.parametrize("name,sig_id,field,text", [
    ("b-port-in-use-uvicorn.log", "SIG-PORT-IN-USE-UVICORN", "fix", "sport = :44319"),
    ("b-port-in-use-llama-server.log", "SIG-PORT-IN-USE-LLAMA-SERVER", "title", "127.0.0.1:8080"),
    ("b-disk-hf-not-enough-space.log", "SIG-HF-NOT-ENOUGH-DISK", "cause", "has 3421.60 MB free but the next file alone needs 3945.44 MB"),
    ("b-hf-consistency-check.log", "SIG-HF-CONSISTENCY-CHECK", "title", "model.safetensors (447786685 of 492265168 bytes)"),
    ("b-gguf-unknown-arch-deepseek4.log", "SIG-LLAMACPP-UNKNOWN-ARCH", "title", "'deepseek4'"),
    ("b-gguf-missing-tensor-v4.log", "SIG-LLAMACPP-MISSING-TENSOR", "title", "'output_norm.weight'"),
    ("b-docker-cuda-requirement.log", "SIG-NVIDIA-CONTAINER-CUDA-REQUIREMENT", "fix", "supports CUDA 12.8"),
    ("b-hf-repo-not-found.log", "SIG-HF-REPO-NOT-FOUND", "title", "'None'"),
    ("b-slow-progress.log", "SIG-SLOW-DOWNLOAD-PROGRESS", "title", "193 kB/s (1.51G of 1.54G)"),
])
def test_values_from_the_log_reach_the_report(name, sig_id, field, text):
    item = next(i for i in _diagnose(name).items if i.id == sig_id)
    assert text in getattr(item, field)


def test_llama_cpp_wrapper_joins_the_error_above_it():
    d = _diagnose("b-gguf-unknown-pretokenizer.log")
    # the wrapper joins the cause; the learned classifier may add its own different cause last ("Also possible")
    assert [i.id for i in d.items if not i.title.startswith("Also possible")] == ["SIG-LLAMACPP-UNKNOWN-PRETOKENIZER"]
    assert "SIG-LLAMACPP-LOAD-FAILED" in d.items[0].matched and len(d.items[0].evidence) >= 2


@pytest.mark.parametrize("name", ["b-slow-hf-xet-missing.log", "b-slow-hf-transfer-hint.log", "b-slow-progress.log"])
def test_slow_download_hints_do_not_make_a_log_unhealthy(name):
    d = _diagnose(name)
    assert d.healthy and [i.category for i in d.items] == ["slow_download"]


@pytest.mark.parametrize("path", sorted(LOGS.glob("healthy-*.log")), ids=lambda p: p.name)
def test_healthy_logs_trigger_no_group_b_signature_at_all(path):
    """Stricter than the generic test: not even a warning or info from group B on a healthy log."""
    assert not (diagnose_text(path.read_text(encoding="utf-8")).matched() & set(B))


# ---------------------------------------------------------------- records


def test_group_b_records_point_at_existing_rows_and_own_samples():
    kb = load()
    for sig in B.values():
        assert kb.row(sig.troubleshooting) is not None, f"{sig.id}: no troubleshooting row {sig.troubleshooting}"
        assert all(s.startswith("b-") for s in sig.samples), sig.id
        # two GGUF loaders' "unknown/unsupported architecture" are an engine too old (docs/diagnose.md definitions)
        relabelled = ("SIG-NVIDIA-CONTAINER-CUDA-REQUIREMENT", "SIG-LLAMACPP-UNKNOWN-ARCH", "SIG-OLLAMA-UNSUPPORTED-ARCH",
                      "SIG-LLAMACPP-UNKNOWN-PRETOKENIZER")
        assert sig.category in GROUP_B_CATEGORIES or sig.id in relabelled, sig.id


def test_regexes_stay_fast_on_hostile_lines():
    """No catastrophic backtracking: each regex over 16k-character near-miss lines (the reader's line cap)."""
    hostile = [
        "NCCL WARN " + "Error while creating shared memory segment " * 300,
        "Repository Not Found for url: https://h/" + "a/" * 8000,
        "does not appear to have files named ('" + "model-0000" * 1600,
        "listen tcp " + "1" * 16000,
        "1" * 16000 + "kB/s]",
        "1/" * 5000 + "1.5G [" + "1:" * 3000 + "kB/s]",
        "Access to model " + "a" * 16000 + " is restricted",
        "HTTPSConnectionPool(host='" + "a." * 8000 + "', port=443): Read timed out",
        "Error while deserializing header: " + "a " * 8000,
    ]
    start = time.perf_counter()
    for line in hostile:
        for sig in B.values():
            sig.pattern.search(line)
    assert time.perf_counter() - start < 2.0
