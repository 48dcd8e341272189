"""Judging one frame: read, decode, segment, check, and build its verdict.

The same code serves `specimen-edge check` and the daemon.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.config import Settings
from edge.decode import FrameDecoder, UnreadableFrame, decode_small, shrink
from edge.qc.base import CheckResult, FrameContext
from edge.qc.framing import CLASS_MAP_KEY, SKEW_CACHE_KEY, reframed_across_bars, skew_degrees
from edge.qc.region_settling import settle_regions
from edge.qc.registry import START_FIRST, checks_for, start_rank
from edge.qc.ruler_extent import fit_scale_bars
from edge.qc.scale import RULER_READINGS_KEY
from edge.qc.station_history import StationHistory
from edge.segmentation.base import Segmenter
from edge.segmentation.deskew import DESKEW_MIN_DEG, segment_square
from edge.segmentation.refine import refined_class_map
from edge.segmentation.regions import extract_regions
from edge.segmentation.registry import create_segmenter
from edge.verdict import Verdict, build_verdict, error_verdict

log = logging.getLogger(__name__)

# Threads the quality checks of one frame share.
CHECK_THREADS = 2


@dataclass
class Judgement:
    verdict: Verdict
    class_map: np.ndarray | None = None
    # the full-resolution frame, when the caller asked to keep it (for crops)
    image: np.ndarray | None = None


class FramePipeline:
    def __init__(self, settings: Settings, segmenter: Segmenter | None = None) -> None:
        self.settings = settings
        self.segmenter = segmenter or create_segmenter(settings.segmenter, settings.active_profile.segmenter_model)
        self.decoder = FrameDecoder(settings.decode.max_megapixels)
        self.checks = checks_for(settings.active_profile)
        self._start_order = sorted(self.checks, key=lambda check: start_rank(check.name))
        self._check_pool = ThreadPoolExecutor(max_workers=CHECK_THREADS, thread_name_prefix="qc")
        # the station's memory across frames: sharpness baseline and the previous barcodes
        self.history = StationHistory(settings.active_profile.blur.baseline_frames)
        self._small_long_side = max(self.segmenter.canvas_hw)

    def warm_up(self) -> None:
        """One inference before reporting ready, so the first real frame is not the slow one."""
        self.segmenter.segment(np.full((*self.segmenter.canvas_hw, 3), 200, np.uint8))

    def judge(self, path: Path, *, want_class_map: bool = False, keep_image: bool = False,
              display_path: Path | None = None) -> Judgement:
        """Verdict for one file. Raises FileNotFoundError when the file has gone (no frame, no verdict)."""
        shown = display_path or path
        start = time.perf_counter()
        try:
            raw = self.decoder.read(path)
        except UnreadableFrame as exc:
            return Judgement(self._error(shown, str(exc), start))
        full_future = self.decoder.start_full(raw)
        try:
            t0 = time.perf_counter()
            small = decode_small(raw, self._small_long_side)
            decode_small_ms = (time.perf_counter() - t0) * 1000
            if small is None:
                small = shrink(full_future.result().full, self._small_long_side)
            t1 = time.perf_counter()
            # a tilted sheet is segmented upright, its class map turned back to the frame's pixels;
            # the framing check reuses this estimate, made on a properly resampled small copy
            skew = skew_degrees(small)
            seg = segment_square(self.segmenter, small, skew[0], DESKEW_MIN_DEG)
            frame_hw = (raw.header.height, raw.header.width)
            rules = self.settings.segmenter
            regions = extract_regions(seg, frame_hw, rules.min_region_fraction, rules.min_region_score,
                                      rules.region_join_gap,
                                      rules.min_region_score_by_class)
            segment_ms = (time.perf_counter() - t1) * 1000
            t2 = time.perf_counter()
            decoded = full_future.result()
            wait_ms = (time.perf_counter() - t2) * 1000
        except UnreadableFrame as exc:
            return Judgement(self._error(shown, str(exc), start, sha256=raw.sha256, size=raw.size_bytes))
        t3 = time.perf_counter()
        profile = self.settings.active_profile
        # scale-bar regions without a ruler in them are dropped, chart regions settled, before any
        # check sees them
        regions, ruler_readings = settle_regions(regions, decoded.full, rules, profile)
        context = FrameContext(image=decoded.full, regions=regions, profile=profile,
                               history=self.history, camera=raw.header.camera, icc_profile=raw.header.icc_profile,
                               cache={SKEW_CACHE_KEY: skew, RULER_READINGS_KEY: ruler_readings,
                                      CLASS_MAP_KEY: seg.placement.crop_to_source_orientation(seg.classes)})
        results = [CheckResult("readable", "ok", "Image decoded completely.", value=True)]
        # the checks run on two threads: their work is mostly OpenCV and numpy, which release the
        # interpreter, and the full decode has finished, so both cores are free again
        longest = len(START_FIRST)
        started = {check.name: self._check_pool.submit(check.run, context) for check in self._start_order[:longest]}
        # scale bars fitted to their rulers for the verdict; only a label's cut is judged again, on the
        # grown bars (a wordmark on the bar, cut from the ruler's region, still tells a credit line).
        # Handed out after the two longest checks, before the short ones, which then fill both threads.
        fitted = self._check_pool.submit(fit_scale_bars, regions, decoded.full, ruler_readings,
                                         rules.grow_scale_bars, rules.trim_scale_bars) \
            if rules.grow_scale_bars or rules.trim_scale_bars else None
        started |= {check.name: self._check_pool.submit(check.run, context) for check in self._start_order[longest:]}
        results += [started[check.name].result() for check in self.checks]
        grown, cut = fitted.result() if fitted is not None else (regions, regions)
        found = context.findings.found_regions
        results = [reframed_across_bars(r, context, [*grown, *found]) if r.check == "framing" else r
                   for r in results]
        reported = [*cut, *found]
        accepted = not any(r.status == "fail" for r in results)
        self.history.record(accepted=accepted, camera=context.camera, edge_width=context.findings.edge_width,
                            barcodes=[b["text"] for b in context.findings.barcodes])
        qc_ms = (time.perf_counter() - t3) * 1000
        verdict = build_verdict(
            station=self.settings.station, path=shown, profile=self.settings.profile, checks=results,
            regions=reported, model=self.segmenter.info, sha256=raw.sha256, size_bytes=raw.size_bytes,
            width=decoded.width, height=decoded.height, barcodes=context.findings.barcodes,
            timings_ms={"decode_small": decode_small_ms, "segment": segment_ms, "decode_wait": wait_ms,
                        "qc": qc_ms, "total": (time.perf_counter() - start) * 1000})
        class_map = refined_class_map(seg, decoded.full, frame_hw) if want_class_map else None
        return Judgement(verdict, class_map, decoded.full if keep_image else None)

    def _error(self, path: Path, reason: str, start: float, sha256: str | None = None,
               size: int | None = None) -> Verdict:
        return error_verdict(station=self.settings.station, path=path, profile=self.settings.profile,
                             model=self.segmenter.info, reason=reason, sha256=sha256, size_bytes=size,
                             total_ms=(time.perf_counter() - start) * 1000)

    def close(self) -> None:
        self._check_pool.shutdown(wait=True)
        self.decoder.close()
        self.segmenter.close()
