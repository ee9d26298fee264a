"""Launch plans: parse every way V4 is started into a LaunchSpec, validate flags, fix the plan.

    from v4doctor.launch import parse_command, parse_text, parse_compose
    spec = parse_text("vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 2")
"""

from v4doctor.launch.compose import parse_compose, parse_vllm_config, render_compose, with_config
from v4doctor.launch.parse import engine_of_image, parse_command
from v4doctor.launch.snippet import parse_text
from v4doctor.launch.spec import Arg, LaunchSpec, interesting_env

__all__ = [
    "Arg", "LaunchSpec", "parse_command", "parse_text", "parse_compose", "parse_vllm_config",
    "render_compose", "with_config", "engine_of_image", "interesting_env",
]
