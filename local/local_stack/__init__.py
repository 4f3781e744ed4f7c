"""Docker-free local stack: runs the bundle's functions as template.yaml declares them, on moto and the sandbox."""
