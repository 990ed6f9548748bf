__version__ = "0.1.0"
USER_AGENT = f"fieldservice-component/{__version__}"
