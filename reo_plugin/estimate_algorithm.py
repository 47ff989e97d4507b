"""Processing algorithm "reo:estimate_agb": the dock's "Estimate AGB" for the toolbox, the graphical
modeler, batch mode and scripts (``processing.run("reo:estimate_agb", {...})``).

It drives the same worker as the dock (``workers.shared_pool``), so the model stays loaded across a
batch. The worker writes into a fresh folder; the AGB and land-cover rasters are then moved to the
requested destinations and styled when QGIS loads them.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputFolder,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from reo_core.band_arguments import parse_band_arguments, split_band_text
from reo_core.errors import ReoError
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.sensors.sentinel2 import BAND_ORDERS, CLOUD_MASK_KINDS
from reo_plugin.compat import (
    ADVANCED_PARAMETER,
    DOUBLE_NUMBER,
    FOLDER_BEHAVIOR,
    INTEGER_NUMBER,
    RASTER_SOURCE,
)
from reo_plugin.layers import raster_file
from reo_plugin.locations import DEMO_MODEL_DIR
from reo_plugin.option_hints import PROCESSING, with_hint
from reo_plugin.parameters import (
    AUTO,
    BOA_OFFSET_CHOICES,
    BandMapping,
    EstimateParameters,
    ExtentParameter,
    InputParameters,
    ModelParameters,
    read_model_config,
)
from reo_plugin.results import EstimateOutcome
from reo_plugin.run_folders import RunFolder
from reo_plugin.styling import apply_style
from reo_plugin.worker_client import WorkerCanceled
from reo_plugin.workers import shared_pool

HELP = """<p>Estimates above-ground biomass (AGB, Mg/ha) and land cover (Copernicus CGLS-LC100
classes) for every 250 m patch of Sentinel-2 L2A imagery with a REO-VLM model. The model runs in
REO's worker process (see REO ▸ Diagnostics).</p>
<p><b>Sentinel-2</b>: one multi-band raster (bands named by description, or AGBD's 12-band order)
or one raster per band (named like <i>..._B04.tif</i>); a raster named <i>..._SCL</i> among them
masks clouds. <b>Band mapping</b> says which file (and band) holds a band when names do not:
<i>B8A=/data/stack.tif:9</i>, one per line or separated by ';'. <b>PALSAR-2</b>: HH and HV, only
for models trained with SAR ('ms+sar').
<b>Extent</b>: empty = all of the imagery. <b>Stride</b>: pixels between patches
(25 = adjacent).</p>
<p>How the input is read is decided from its metadata, checked against its values, and written to
the log and the summary. To override it: <b>Cloud mask</b> (an SCL, Fmask, binary or cloud
probability raster, with its kind and, for probabilities, the threshold); <b>Band order</b> of a
stack whose bands have no names (agbd, l1c, eurosat: REO never guesses it); <b>BOA offset</b>
(auto, 0 or 1000 DN); <b>Allow Level-1C</b> (top-of-atmosphere input, biased estimates).</p>
<p>Outputs: AGB and land-cover GeoTIFFs on the patch grid, the totals (AGB and carbon, Mg) and the
summary as JSON; the run's folder also holds the uncertainty, patch counts and a quicklook.</p>"""

TEMPORARY_OUTPUT = QgsProcessing.TEMPORARY_OUTPUT
_post_processors: dict[str, QgsProcessingLayerPostProcessorInterface] = {}  # alive until used


class _StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Applies REO's style to an output when QGIS loads it into the project."""

    def __init__(self, key: str, destination: str) -> None:
        super().__init__()
        self.key, self.destination = key, destination

    def postProcessLayer(
        self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> None:
        try:
            apply_style(layer, self.key)
        except ReoError as error:
            feedback.reportError(error.message)
        _post_processors.pop(self.destination, None)


class EstimateAgbAlgorithm(QgsProcessingAlgorithm):
    SENTINEL2 = "SENTINEL2"
    PALSAR2 = "PALSAR2"
    MODEL = "MODEL"
    DEVICE = "DEVICE"
    EXTENT = "EXTENT"
    STRIDE = "STRIDE"
    CLOUD_MASK = "CLOUD_MASK"
    CLOUD_MASK_KIND = "CLOUD_MASK_KIND"
    CLOUD_THRESHOLD = "CLOUD_THRESHOLD"
    BAND_ORDER = "BAND_ORDER"
    BANDS = "BANDS"
    BOA_OFFSET = "BOA_OFFSET"
    ALLOW_L1C = "ALLOW_L1C"
    BATCH_SIZE = "BATCH_SIZE"
    OUTPUT_AGB = "OUTPUT_AGB"
    OUTPUT_LAND_COVER = "OUTPUT_LAND_COVER"

    def name(self) -> str:
        return "estimate_agb"

    def displayName(self) -> str:
        return "Estimate AGB and land cover"

    def group(self) -> str:
        return "Biomass"

    def groupId(self) -> str:
        return "biomass"

    def shortHelpString(self) -> str:
        return HELP

    def createInstance(self) -> EstimateAgbAlgorithm:
        return EstimateAgbAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.SENTINEL2,
                "Sentinel-2 L2A rasters (multi-band, or one per band; "
                "may be empty when BANDS names every band)",
                RASTER_SOURCE,
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterMultipleLayers(
                self.PALSAR2,
                "PALSAR-2 HH and HV rasters ('ms+sar' models only)",
                RASTER_SOURCE,
                optional=True,
            )
        )
        # Optional, not only defaulted: QGIS 3.22 refuses a missing non-optional file parameter
        # even when it has a default, so `processing.run` without MODEL would fail there.
        self.addParameter(
            QgsProcessingParameterFile(
                self.MODEL,
                "Model folder (empty: the built-in demo model)",
                behavior=FOLDER_BEHAVIOR,
                defaultValue=str(DEMO_MODEL_DIR),
                optional=True,
            )
        )
        self.addParameter(
            QgsProcessingParameterExtent(
                self.EXTENT, "Extent (empty: all of the imagery)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.STRIDE,
                f"Stride (pixels between patches; {PATCH_SIZE} = adjacent 250 m patches)",
                INTEGER_NUMBER,
                defaultValue=PATCH_SIZE,
                minValue=1,
                maxValue=PATCH_SIZE,
            )
        )
        self._add_reading_parameters()
        device = QgsProcessingParameterString(
            self.DEVICE, "Device (auto, cpu, cuda, cuda:N, mps)", defaultValue="auto"
        )
        batch = QgsProcessingParameterNumber(
            self.BATCH_SIZE,
            "Batch size (patches per forward pass)",
            INTEGER_NUMBER,
            defaultValue=32,
            minValue=1,
        )
        for parameter in (device, batch):
            parameter.setFlags(parameter.flags() | ADVANCED_PARAMETER)
            self.addParameter(parameter)
        for name, title in (
            (self.OUTPUT_AGB, "AGB (Mg/ha)"),
            (self.OUTPUT_LAND_COVER, "Land cover"),
        ):
            # Optional with a temporary file as default: QGIS 3.22 refuses a missing non-optional
            # destination even when it has a default. Skipped, the raster stays in FOLDER.
            self.addParameter(
                QgsProcessingParameterRasterDestination(
                    name, title, TEMPORARY_OUTPUT, optional=True
                )
            )
        self.addOutput(QgsProcessingOutputNumber("TOTAL_AGB_MG", "Total AGB (Mg)"))
        self.addOutput(QgsProcessingOutputNumber("TOTAL_CARBON_MG", "Total carbon (Mg C)"))
        self.addOutput(QgsProcessingOutputNumber("MEAN_AGB", "Mean AGB (Mg/ha)"))
        self.addOutput(QgsProcessingOutputString("SUMMARY", "Summary (JSON)"))
        self.addOutput(QgsProcessingOutputFolder("FOLDER", "Folder of the run (all outputs)"))

    def _add_reading_parameters(self) -> None:
        """The overrides of how the Sentinel-2 input is read (all optional); enums take strings."""
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                self.CLOUD_MASK,
                "Cloud mask (empty: the SCL if given, else REO's screening)",
                optional=True,
            )
        )
        kind = _strings_enum(self.CLOUD_MASK_KIND, "Cloud mask kind", CLOUD_MASK_KINDS, "scl")
        threshold = QgsProcessingParameterNumber(
            self.CLOUD_THRESHOLD,
            "Cloud probability threshold (probability masks; empty: 0.4, or 40 for integer masks)",
            DOUBLE_NUMBER,
            optional=True,
            minValue=0.0,
        )
        order = _strings_enum(
            self.BAND_ORDER, "Band order of a stack without band names", tuple(BAND_ORDERS), None
        )
        bands = QgsProcessingParameterString(
            self.BANDS,
            "Band mapping: BAND=FILE[:INDEX], one per line or separated by ';' (overrides names)",
            multiLine=True,
            optional=True,
        )
        offset = _strings_enum(self.BOA_OFFSET, "BOA offset (DN)", BOA_OFFSET_CHOICES, AUTO)
        allow = QgsProcessingParameterBoolean(
            self.ALLOW_L1C,
            "Allow Level-1C (top-of-atmosphere) input",
            defaultValue=False,
            optional=True,
        )
        for parameter in (kind, threshold, order, bands, offset, allow):
            if parameter in (threshold, offset, allow):
                parameter.setFlags(parameter.flags() | ADVANCED_PARAMETER)
            self.addParameter(parameter)

    def processAlgorithm(
        self, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict:
        try:
            estimate = self._parameters(parameters, context)
        except ReoError as error:
            raise QgsProcessingException(_text(error)) from None
        fields = estimate.request_fields()
        feedback.pushInfo(f"Worker request: {json.dumps(fields)}")

        def progress(fraction: float, message: str) -> None:
            feedback.setProgress(100.0 * fraction)
            if message:
                feedback.setProgressText(message)

        folder = RunFolder(estimate.out)
        try:
            result = shared_pool().run(
                "estimate",
                fields,
                estimate.model.model,
                estimate.model.device,
                progress,
                feedback.isCanceled,
            )
        except WorkerCanceled:
            folder.discard()
            feedback.reportError("Canceled; no output was written.")
            return {}
        except ReoError as error:
            folder.discard()
            raise QgsProcessingException(_text(error)) from None
        outcome = EstimateOutcome.from_result(result, estimate.out)
        _report_reading(outcome, feedback)
        outputs = {
            "FOLDER": str(outcome.out),
            "SUMMARY": json.dumps(outcome.summary),
            "TOTAL_AGB_MG": outcome.total_agb_mg,
            "TOTAL_CARBON_MG": outcome.total_carbon_mg,
            "MEAN_AGB": outcome.mean_agb,
        }
        for name, key in ((self.OUTPUT_AGB, "agb"), (self.OUTPUT_LAND_COVER, "land_cover")):
            destination = self.parameterAsOutputLayer(parameters, name, context)
            source = outcome.files.get(key)
            if source is None or not source.is_file():
                raise QgsProcessingException(f"The worker wrote no {key} raster in {outcome.out}.")
            if not destination:  # output skipped: the raster stays in the run's folder
                outputs[name] = str(source)
                continue
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), destination)
            outputs[name] = destination
            if context.willLoadLayerOnCompletion(destination):
                processor = _StyleOnLoad(key, destination)
                _post_processors[destination] = processor
                context.layerToLoadOnCompletionDetails(destination).setPostProcessor(processor)
        feedback.pushInfo(outcome.summary_text())
        return outputs

    def _parameters(self, parameters: dict, context: QgsProcessingContext) -> EstimateParameters:
        s2 = [
            raster_file(layer)
            for layer in self.parameterAsLayerList(parameters, self.SENTINEL2, context)
        ]
        sar = [
            raster_file(layer)
            for layer in self.parameterAsLayerList(parameters, self.PALSAR2, context)
        ]
        model = self.parameterAsFile(parameters, self.MODEL, context) or str(DEMO_MODEL_DIR)
        modality = read_model_config(model).get("modality", "ms")
        extent = None
        if parameters.get(self.EXTENT) not in (None, ""):
            rect = self.parameterAsExtent(parameters, self.EXTENT, context)
            crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
            if not rect.isNull() and not rect.isEmpty():
                extent = ExtentParameter(
                    (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()),
                    crs.authid() or crs.toWkt(),
                )
        out = Path(QgsProcessingUtils.tempFolder()) / f"reo-{uuid.uuid4().hex[:12]}"
        return EstimateParameters(
            inputs=self._inputs(parameters, context, s2, sar),
            model=ModelParameters(
                model, modality, self.parameterAsString(parameters, self.DEVICE, context) or "auto"
            ),
            out=str(out),
            extent=extent,
            stride=self.parameterAsInt(parameters, self.STRIDE, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
        )

    def _inputs(
        self, parameters: dict, context: QgsProcessingContext, s2: list[str], sar: list[str]
    ) -> InputParameters:
        mask = self.parameterAsRasterLayer(parameters, self.CLOUD_MASK, context)
        threshold = None
        if parameters.get(self.CLOUD_THRESHOLD) not in (None, ""):
            threshold = self.parameterAsDouble(parameters, self.CLOUD_THRESHOLD, context)
        return InputParameters(
            s2=tuple(s2),
            sar=tuple(sar),
            band_mapping=self._band_mapping(parameters, context),
            band_order=self.parameterAsEnumString(parameters, self.BAND_ORDER, context) or None,
            boa_offset=self.parameterAsEnumString(parameters, self.BOA_OFFSET, context) or AUTO,
            allow_l1c=self.parameterAsBoolean(parameters, self.ALLOW_L1C, context),
            cloud_mask=raster_file(mask) if mask is not None else None,
            cloud_mask_kind=self.parameterAsEnumString(parameters, self.CLOUD_MASK_KIND, context)
            or "scl",
            cloud_threshold=threshold,
        )

    def _band_mapping(self, parameters: dict, context: QgsProcessingContext) -> BandMapping:
        """BANDS as the worker takes it: band -> (file, 1-based index), parsed as ``--band``."""
        text = self.parameterAsString(parameters, self.BANDS, context)
        mapping = parse_band_arguments(split_band_text(text), option=self.BANDS)
        return {band: (str(path), index) for band, (path, index) in mapping.items()}


def _strings_enum(
    name: str, title: str, options: Iterable[str], default: str | None
) -> QgsProcessingParameterEnum:
    """An optional enum whose values are its option strings ("1000", "eurosat"), not indexes."""
    return QgsProcessingParameterEnum(
        name,
        title,
        options=list(options),
        allowMultiple=False,
        defaultValue=default,
        optional=True,
        usesStaticStrings=True,
    )


def _report_reading(outcome: EstimateOutcome, feedback: QgsProcessingFeedback) -> None:
    """How the worker read the input, the patches it skipped and its warnings, into the log."""
    reading = outcome.reading
    if reading is not None:
        feedback.pushInfo(f"How REO read the input: {reading.line()}")
        for warning in reading.warnings:
            feedback.pushWarning(warning)
    skipped = outcome.skipped_text()
    if skipped:
        feedback.pushInfo(f"{skipped}.")


def _text(error: ReoError) -> str:
    message = with_hint(error.message, PROCESSING)
    return f"{message}\n{error.details}" if error.details else message
