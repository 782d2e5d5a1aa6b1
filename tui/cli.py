def main() -> int:
    print("bulk-transcribe: not built yet")
    return 0
