"""The command-line values the peer scripts share: sizes ("4K", "4M", "64M"),
thread lists ("1,all") and the "all" thread count simdrop_bench uses."""
import os


def parse_size(text):
    text = text.strip()
    multiplier = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:].lower(), 1)
    return int(text[:-1] if multiplier > 1 else text) * multiplier


def parse_sizes(text):
    return [parse_size(s) for s in text.split(",") if s.strip()]


def default_all_threads():
    """OMP_NUM_THREADS's first entry when set, else the CPUs this process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parse_threads(text, all_threads):
    """"1,all" -> sorted distinct counts, "all" standing for all_threads."""
    return sorted({all_threads if item.strip() == "all" else int(item) for item in text.split(",") if item.strip()})
