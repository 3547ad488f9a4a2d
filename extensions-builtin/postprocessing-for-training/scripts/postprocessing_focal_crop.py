"""Extras operation "Auto focal point crop": crop to the target size (the Upscale operation's) around the
picture's subject, found from faces, entropy and edges (see the extension's ``autocrop`` module)."""
from __future__ import annotations

from typing import Any

import autocrop

from modules import scripts_postprocessing, shared

_warned: set[str] = set()


def _models_path() -> str | None:
    paths = shared.paths
    return getattr(paths, "models_dir", None) if paths is not None else None


def face_detection_note() -> str:
    """What face detection will use, in words (shown in the operation's UI)."""
    method = autocrop.face_detection_method(autocrop.yunet_model_path(_models_path()))
    if method == "yunet":
        return "Faces are found with OpenCV's YuNet model (models/opencv)."
    if method == "haar":
        return "Faces are found with OpenCV's bundled Haar cascades."
    return ("No face detector is available offline (no YuNet model in models/opencv, no Haar cascades in this "
            "OpenCV): the focal point comes from entropy and edges only; the face weight has no effect.")


class ScriptPostprocessingFocalCrop(scripts_postprocessing.ScriptPostprocessing):
    """Crop to ``pp.shared.target_width`` x ``target_height`` around the focal point; optionally a debug picture."""

    name = "Auto focal point crop"
    order = 4010

    def ui(self) -> dict:
        import gradio as gr

        from modules import ui_components

        with ui_components.InputAccordion(False, label="Auto focal point crop") as enable:
            face_weight = gr.Slider(label="Focal point face weight", value=0.9, minimum=0.0, maximum=1.0, step=0.05,
                                    elem_id="postprocess_focal_crop_face_weight")
            entropy_weight = gr.Slider(label="Focal point entropy weight", value=0.15, minimum=0.0, maximum=1.0,
                                       step=0.05, elem_id="postprocess_focal_crop_entropy_weight")
            edges_weight = gr.Slider(label="Focal point edges weight", value=0.5, minimum=0.0, maximum=1.0, step=0.05,
                                     elem_id="postprocess_focal_crop_edges_weight")
            debug = gr.Checkbox(label="Create debug image", elem_id="train_process_focal_crop_debug")
            gr.Markdown(face_detection_note(), elem_id="postprocess_focal_crop_face_note")
        return {"enable": enable, "face_weight": face_weight, "entropy_weight": entropy_weight,
                "edges_weight": edges_weight, "debug": debug}

    def process(self, pp: scripts_postprocessing.PostprocessedImage, enable: bool = False, face_weight: float = 0.9,
                entropy_weight: float = 0.15, edges_weight: float = 0.5, debug: bool = False, **_: Any) -> None:
        if not enable:
            return
        if not pp.shared.target_width or not pp.shared.target_height:
            return  # no target size: the Upscale operation sets it

        dnn_model_path = autocrop.yunet_model_path(_models_path())
        if face_weight > 0 and autocrop.face_detection_method(dnn_model_path) is None and "faces" not in _warned:
            _warned.add("faces")
            print(f"Auto focal point crop: {face_detection_note()}")

        settings = autocrop.Settings(
            crop_width=int(pp.shared.target_width),
            crop_height=int(pp.shared.target_height),
            face_points_weight=float(face_weight),
            entropy_points_weight=float(entropy_weight),
            corner_points_weight=float(edges_weight),
            annotate_image=bool(debug),
            dnn_model_path=dnn_model_path,
        )
        result, *others = autocrop.crop_image(pp.image, settings)
        pp.image = result
        pp.extra_images = [pp.create_copy(x, nametags=["focal-crop-debug"], disable_processing=True) for x in others]
