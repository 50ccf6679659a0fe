print("roost-cluster-sim: not yet")
