"""Live drone video to the browsers: WebRTC (WHEP) sessions fed from the video hub."""
