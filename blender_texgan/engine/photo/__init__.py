"""Photo to material: the pipeline (photo -> maps), the photo translator, Save as Model."""
