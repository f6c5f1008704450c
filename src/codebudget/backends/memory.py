"""Peak resident memory of this process, per sample.

Linux keeps a high-water mark of RSS (VmHWM) that can be reset by writing "5" to
/proc/self/clear_refs, so each sample's peak is measured on its own rather than as the
process's lifetime maximum. Where that is unavailable the reading is None, not a guess.
"""

from __future__ import annotations


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
