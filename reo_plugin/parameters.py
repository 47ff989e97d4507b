"""What the user asked for, as plain validated data: the dock and Processing fill these, tasks send
them.

Nothing here touches a widget or a layer; ``request_fields()`` gives the worker request exactly.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from reo_core.errors import InputError, check_choice
from reo_core.model.config import CONFIG_NAME
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.sensors.composites import MODALITIES, bands_needed, reads_sar
from reo_core.sensors.sentinel2 import BAND_ORDERS, BOA_OFFSETS, CLOUD_MASK_KINDS

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
AUTO = "auto"
BOA_OFFSET_CHOICES: tuple[str, ...] = (AUTO, *map(str, BOA_OFFSETS))  # "auto", "0", "1000"

BandMapping = dict[str, tuple[str, int]]  # band -> (file, 1-based band index)


@dataclass(frozen=True)
class ExtentParameter:
    """A rectangle in a CRS (an authority id such as 'EPSG:32632' or a WKT)."""

    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax
    crs: str

    def __post_init__(self) -> None:
        xmin, ymin, xmax, ymax = (float(v) for v in self.bounds)
        if (
            not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax))
            or xmin >= xmax
            or ymin >= ymax
        ):
            raise InputError(
                f"The extent {self.bounds} is empty or not finite; draw or choose another."
            )
        if not self.crs:
            raise InputError(
                "The extent has no CRS; set the project's CRS or choose the extent again."
            )
        object.__setattr__(self, "bounds", (xmin, ymin, xmax, ymax))

    def to_request(self) -> dict:
        return {"bounds": list(self.bounds), "crs": self.crs}


@dataclass(frozen=True)
class InputParameters:
    """Sentinel-2 (and PALSAR-2) files and what the user said about reading them; shared by
    estimates, questions and inspections.

    Sent to the worker as the user gave them: files whose names or descriptions state their bands
    in ``s2``, the bands the user chose by hand in ``band_mapping``, and the overrides of how the
    numbers are read (the BOA offset, Level-1C, the band order of an unnamed stack, a cloud mask).
    The worker (``reo_core.raster.product``) decides the rest and says how (``inspect``).
    """

    s2: tuple[str, ...] = ()
    sar: tuple[str, ...] = ()
    band_mapping: BandMapping = field(default_factory=dict)
    band_order: str | None = None  # the order of a stack without band names (BAND_ORDERS)
    boa_offset: str = AUTO  # "auto" (metadata, checked against the data), "0" or "1000" DN
    allow_l1c: bool = False  # read a Level-1C product anyway (the worker warns)
    cloud_mask: str | None = None  # a cloud mask raster (an SCL, Fmask, s2cloudless, ...)
    cloud_mask_kind: str = "scl"  # what its values mean (CLOUD_MASK_KINDS)
    cloud_threshold: float | None = None  # probability masks: cloudy at or above (None: default)

    def __post_init__(self) -> None:
        object.__setattr__(self, "s2", tuple(str(p) for p in self.s2))
        object.__setattr__(self, "sar", tuple(str(p) for p in self.sar))
        object.__setattr__(self, "boa_offset", str(self.boa_offset))
        if not self.s2 and not self.band_mapping:
            raise InputError(
                "Choose the Sentinel-2 input: one multi-band layer, or a layer per band."
            )
        check_choice("BOA offset", self.boa_offset, BOA_OFFSET_CHOICES)
        check_choice("cloud mask kind", self.cloud_mask_kind, CLOUD_MASK_KINDS)
        if self.band_order is not None:
            check_choice("band order", self.band_order, tuple(BAND_ORDERS))

    def request_fields(self) -> dict:
        """The worker's input fields (``serve_protocol.Imagery``)."""
        fields: dict = {"boa_offset": _offset_field(self.boa_offset), "allow_l1c": self.allow_l1c}
        if self.s2:
            fields["s2"] = list(self.s2)
        if self.band_mapping:
            fields["band_mapping"] = {
                band: [path, int(index)]
                for band, (path, index) in sorted(self.band_mapping.items())
            }
        if self.band_order is not None:
            fields["band_order"] = self.band_order
        if self.cloud_mask:
            fields["cloud_mask"] = self.cloud_mask
            fields["cloud_mask_kind"] = self.cloud_mask_kind
            if self.cloud_threshold is not None:
                fields["cloud_threshold"] = float(self.cloud_threshold)
        if self.sar:
            fields["sar"] = list(self.sar)
        return fields


@dataclass(frozen=True)
class ModelParameters:
    """Which model, on which device, reading which modality."""

    model: str
    modality: str = "ms"
    device: str = "auto"

    def __post_init__(self) -> None:
        check_choice("modality", self.modality, MODALITIES)
        if not _DEVICE.match(self.device):
            raise InputError(f"Unknown device '{self.device}'; use auto, cpu, cuda, cuda:N or mps.")
        config = read_model_config(self.model)
        trained = config.get("modality")
        if trained and trained != self.modality:
            raise InputError(
                f"The model {Path(self.model).name} was trained on '{trained}' inputs, not "
                f"'{self.modality}'. Choose the modality '{trained}', or a model trained for "
                f"'{self.modality}'."
            )


@dataclass(frozen=True)
class EstimateParameters:
    """One "Estimate AGB" run."""

    inputs: InputParameters
    model: ModelParameters
    out: str  # folder of this run's rasters (created by the worker)
    extent: ExtentParameter | None = None  # None = all of the Sentinel-2 imagery
    stride: int = PATCH_SIZE
    batch_size: int = 32

    def __post_init__(self) -> None:
        if not 1 <= int(self.stride) <= PATCH_SIZE:
            raise InputError(
                f"The stride must be between 1 and {PATCH_SIZE} pixels, got {self.stride}."
            )
        if int(self.batch_size) < 1:
            raise InputError(f"The batch size must be at least 1, got {self.batch_size}.")
        if not self.out:
            raise InputError("Choose an output folder for the rasters.")
        check_modality_inputs(self.model.modality, self.inputs)

    def request_fields(self) -> dict:
        fields = {
            **self.inputs.request_fields(),
            "stride": int(self.stride),
            "out": self.out,
            "batch_size": int(self.batch_size),
        }
        return _with_extent(fields, self.extent)


@dataclass(frozen=True)
class InspectParameters:
    """How the worker would read the inputs of an estimate (``inspect``): no model is run, only the
    model's ``reo_config.json`` is read for its bands."""

    inputs: InputParameters
    model: str  # the model folder
    extent: ExtentParameter | None = None
    stride: int = PATCH_SIZE

    @classmethod
    def of_estimate(cls, estimate: EstimateParameters) -> InspectParameters:
        """The inspection of the inputs of ``estimate``."""
        return cls(estimate.inputs, estimate.model.model, estimate.extent, estimate.stride)

    def request_fields(self) -> dict:
        fields = {**self.inputs.request_fields(), "model": self.model, "stride": int(self.stride)}
        return _with_extent(fields, self.extent)


@dataclass(frozen=True)
class AskParameters:
    """A question about the patch under a point."""

    inputs: InputParameters
    model: ModelParameters
    point: tuple[float, float]
    crs: str
    question: str
    extent: ExtentParameter | None = None  # align the patch grid with an estimate's extent
    stride: int = PATCH_SIZE

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise InputError("Type a question about the patch first.")
        if len(self.point) != 2 or not all(math.isfinite(float(v)) for v in self.point):
            raise InputError(
                "Pick a patch on the map first (REO ▸ Ask about a patch, then click the map)."
            )
        check_modality_inputs(self.model.modality, self.inputs)

    def request_fields(self) -> dict:
        fields = {
            **self.inputs.request_fields(),
            "point": [float(v) for v in self.point],
            "crs": self.crs,
            "question": self.question.strip(),
            "stride": int(self.stride),
        }
        return _with_extent(fields, self.extent)


def _with_extent(fields: dict, extent: ExtentParameter | None) -> dict:
    """A request's fields, with the extent when one is set."""
    return fields if extent is None else {**fields, "extent": extent.to_request()}


def check_modality_inputs(modality: str, inputs: InputParameters) -> None:
    """PALSAR-2 is given exactly when the modality reads it."""
    if reads_sar(modality) and len(inputs.sar) < 2:
        raise InputError(
            "The modality 'ms+sar' reads PALSAR-2 HH and HV: "
            "choose both layers, or the modality 'ms'."
        )
    if not reads_sar(modality) and inputs.sar:
        raise InputError(
            f"The modality '{modality}' reads no PALSAR-2: "
            "clear the PALSAR-2 layers, or choose 'ms+sar'."
        )


def required_bands(modality: str) -> tuple[str, ...]:
    """Sentinel-2 bands a modality reads, in AGBD order."""
    return bands_needed(modality)


def read_model_config(folder: str | Path) -> dict:
    """The model's ``reo_config.json`` (plain JSON: no torch); InputError if it is not a model."""
    path = Path(folder) / CONFIG_NAME
    if not Path(folder).is_dir():
        raise InputError(
            f"The model folder {folder} does not exist. Choose a REO model folder (one with "
            f"{CONFIG_NAME}), e.g. the built-in demo model."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{folder} is not a REO model folder: it has no {CONFIG_NAME}. Choose the folder "
            f"that holds {CONFIG_NAME}."
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"The model's {CONFIG_NAME} cannot be read: {error}") from None


def _offset_field(choice: str) -> str | int:
    """The protocol's ``boa_offset``: "auto" or the number of DN."""
    return choice if choice == AUTO else int(choice)
