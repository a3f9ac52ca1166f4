"""The servers closecast is compared with in `python -m benchmarks serve`, each started by it as
`python -m benchmarks.serve_apps bare|capstone PORT WORKERS` (the repository root on its PYTHONPATH).

bare       a FastAPI route with closecast's own pydantic request body that answers a constant;
capstone   the course capstone closecast replaces: `torch.load(weights_only=False)`, a build per request.
"""

import sys


def _base_app():
    """A FastAPI app with `/health`, and the capstone's /predict body model, shared by both apps."""
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Body(BaseModel):
        values: list[float]
        checkpoint_path: str = "checkpoints/best.pt"
        device: str = "cpu"

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app, Body


def bare_app():
    """A FastAPI route that parses closecast's /predict body and answers a constant: the ceiling."""
    from closecast.serving.schemas import PredictRequest

    app, _ = _base_app()

    @app.post("/predict")
    async def predict(body: PredictRequest) -> dict:
        return {"prediction": 0.0, "checkpoint_path": body.checkpoint_path, "device": body.device}

    return app


def capstone_app():
    """The capstone design closecast replaces: the request names a file, unpickled and rebuilt per call."""
    import torch

    from closecast.data.codec import Codec
    from closecast.models.lstm import LSTMForecaster

    app, Body = _base_app()

    @app.post("/predict")
    def predict(body: Body) -> dict:
        checkpoint = torch.load(body.checkpoint_path, map_location=body.device, weights_only=False)
        net = LSTMForecaster(**checkpoint["model"])
        net.load_state_dict(checkpoint["state_dict"])
        net.eval()
        (record,) = checkpoint["series"].values()  # a closecast artifact of one series
        codec = Codec.from_dict(record["codec"])
        prices = torch.tensor(body.values[-codec.window :], dtype=torch.float64)
        with torch.no_grad():
            y = net.likelihood.location(net(codec.encode(prices).unsqueeze(0)))  # a head's point forecast
        shrink = record["calibration"]["shrink"]
        prediction = float(codec.decode(y, prices[-1:], shrink)[0, 0])
        return {"prediction": prediction, "checkpoint_path": body.checkpoint_path, "device": body.device}

    return app


if __name__ == "__main__":
    import uvicorn

    name, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    uvicorn.run(
        f"benchmarks.serve_apps:{name}_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
