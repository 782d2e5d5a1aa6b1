"""The faces: the Textual app, the headless printer and the command line. Kept lazy: importing
this package does not import Textual."""
