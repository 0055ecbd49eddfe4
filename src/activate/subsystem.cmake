# activate: generations, activation steps, magic rollback on the target.
flakectl_subsystem(activate DEPS util store secret HEADERS activate.h)
