"""placeholder"""
def add_flags(parser): pass
