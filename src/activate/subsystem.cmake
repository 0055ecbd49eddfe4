# activate: generations, activation steps, magic rollback on the target.
flakectl_subsystem(activate DEPS util store secret pkg HEADERS activate.h)
